package main

import (
	"context"
	"time"
)

// waitPoll is how often waitAll looks; arrival times are recorded by the streams themselves,
// so a slower poll only delays the answer, not the measurement.
const waitPoll = 5 * time.Millisecond

// waitAll polls until every stream has ≥ endpoints in each of its resources (with exactly, the
// least count is endpoints), or the timeout.
func waitAll(ctx context.Context, all []*stream, endpoints int, exactly bool, timeout time.Duration) map[string]any {
	deadline := time.Now().Add(timeout)
	done := make([]bool, len(all))
	complete := 0
	for {
		for i, s := range all {
			if done[i] {
				continue
			}
			s.mu.Lock()
			done[i] = s.minNow >= endpoints && (!exactly || s.minNow == endpoints)
			s.mu.Unlock()
			if done[i] {
				complete++
			}
		}
		if complete == len(all) || time.Now().After(deadline) || ctx.Err() != nil {
			return map[string]any{"ok": complete == len(all), "complete": complete, "streams": len(all)}
		}
		time.Sleep(waitPoll)
	}
}

// streamReport is one stream's record: arrivals as [atUs, bytes, minEndpoints] (Unix microseconds).
type streamReport struct {
	Node       string     `json:"node"`
	Arrivals   [][3]int64 `json:"arrivals"`
	Reconnects int        `json:"reconnects"`
	LastError  string     `json:"lastError,omitempty"`
}

func report(all []*stream) map[string]any {
	streams := make([]streamReport, len(all))
	for i, s := range all {
		s.mu.Lock()
		arrivals := make([][3]int64, len(s.arrivals))
		for j, a := range s.arrivals {
			arrivals[j] = [3]int64{a.atUs, int64(a.bytes), int64(a.minEndpoints)}
		}
		streams[i] = streamReport{Node: s.node, Arrivals: arrivals, Reconnects: s.reconnects, LastError: s.lastError}
		s.mu.Unlock()
	}
	return map[string]any{"ok": true, "streams": streams}
}
