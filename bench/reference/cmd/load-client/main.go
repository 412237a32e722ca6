// Command load-client opens many ADS streams to an xDS server (state of the world, or delta
// with -delta), each subscribed by name to ClusterLoadAssignments, ACKs every response as Envoy
// does, and records when each response arrived, its size, and the smallest endpoint count
// among the stream's resources after it. It measures the bridge and the reference servers alike.
//
// It prints {"event":"started","startedAtUs":N,"streams":N} (Unix microseconds) once every
// stream has been launched, then answers JSON commands read line by line on stdin, one JSON line each on stdout:
//
//	{"cmd":"wait","endpoints":E,"timeoutMs":T}  until every stream has ≥ E endpoints in every
//	                                           resource: {"ok":true|false,"complete":K,...}
//	{"cmd":"wait","endpoints":E,"exactly":true,…} the same, the least count exactly E (a health
//	                                           flip that takes one endpoint out, with -count=healthy)
//	{"cmd":"report"}                           every response of every stream so far
//
// It exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	target := flag.String("target", "", "xDS server, HOST:PORT")
	streams := flag.Int("streams", 1, "number of ADS streams, each on its own connection")
	resources := flag.String("resources", "", "comma-separated ClusterLoadAssignment names every stream subscribes to")
	pattern := flag.String("resource-pattern", "", "with -resource-count, names made with fmt (e.g. svc-%d, numbered from 0)")
	count := flag.Int("resource-count", 0, "how many names -resource-pattern makes")
	nodePrefix := flag.String("node-prefix", "load", "node ids are PREFIX-INDEX")
	delta := flag.Bool("delta", false, "incremental xDS (DeltaAggregatedResources) instead of state of the world")
	counting := flag.String("count", "all", "endpoints counted: all, or healthy (health status not UNHEALTHY, DRAINING or TIMEOUT)")
	flag.Parse()
	healthyOnly = *counting == "healthy"
	if *counting != "all" && !healthyOnly {
		fmt.Fprintln(os.Stderr, "load-client: -count is all or healthy")
		os.Exit(2)
	}

	names := splitNames(*resources)
	for i := 0; i < *count; i++ {
		names = append(names, fmt.Sprintf(*pattern, i))
	}
	if *target == "" || *streams < 1 || len(names) == 0 {
		fmt.Fprintln(os.Stderr, "load-client: -target, -streams ≥ 1 and at least one resource name are required")
		os.Exit(2)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all := make([]*stream, *streams)
	for i := range all {
		all[i] = newStream(fmt.Sprintf("%s-%d", *nodePrefix, i), names, *delta)
	}
	startedAt := time.Now().UnixMicro()
	for _, s := range all {
		go s.run(ctx, *target)
	}
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(map[string]any{"event": "started", "startedAtUs": startedAt, "streams": len(all)})

	control(ctx, all, out)
}

// control answers the commands on stdin until it closes.
func control(ctx context.Context, all []*stream, out *json.Encoder) {
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		var command struct {
			Cmd       string `json:"cmd"`
			Endpoints int    `json:"endpoints"`
			Exactly   bool   `json:"exactly"`
			TimeoutMs int    `json:"timeoutMs"`
		}
		if err := json.Unmarshal(lines.Bytes(), &command); err != nil {
			_ = out.Encode(map[string]any{"ok": false, "error": "bad command: " + err.Error()})
			continue
		}
		switch command.Cmd {
		case "wait":
			_ = out.Encode(waitAll(ctx, all, command.Endpoints, command.Exactly, time.Duration(command.TimeoutMs)*time.Millisecond))
		case "report":
			_ = out.Encode(report(all))
		default:
			_ = out.Encode(map[string]any{"ok": false, "error": "unknown command " + command.Cmd})
		}
	}
}

func splitNames(list string) []string {
	var names []string
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}
