package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// store holds the assignment of every service and hands them to a go-control-plane cache.
type store interface {
	// cache is what the xDS server serves from.
	cache() cache.Cache
	// set replaces one service's assignment.
	set(service string, assignment *endpoint.ClusterLoadAssignment) error
}

func newStore(ctx context.Context, kind string) (store, error) {
	// A start epoch in every version, so a reconnecting client never holds a version we reuse.
	epoch := strconv.FormatInt(time.Now().UnixNano(), 36)
	switch kind {
	case "linear":
		return &linearStore{linear: cache.NewLinearCache(resource.EndpointType, cache.WithVersionPrefix(epoch+"-"))}, nil
	case "snapshot":
		return &snapshotStore{
			ctx:         ctx,
			epoch:       epoch,
			snapshots:   cache.NewSnapshotCache(true, oneGroup{}, nil),
			assignments: map[string]types.Resource{},
		}, nil
	}
	return nil, fmt.Errorf("unknown cache %q (want linear or snapshot)", kind)
}

// linearStore updates one resource of a LinearCache per change: only that resource's
// subscribers wake, and its encoding is cached and shared.
type linearStore struct {
	linear *cache.LinearCache
}

func (s *linearStore) cache() cache.Cache { return s.linear }

func (s *linearStore) set(service string, assignment *endpoint.ClusterLoadAssignment) error {
	return s.linear.UpdateResource(service, assignment)
}

// snapshotStore rebuilds one snapshot of every assignment per change and sets it for all
// clients at once (one node group), the most favourable way to use a SnapshotCache here.
type snapshotStore struct {
	ctx         context.Context
	epoch       string
	snapshots   cache.SnapshotCache
	mu          sync.Mutex
	version     int
	assignments map[string]types.Resource
}

// snapshotGroup is the single node group every client belongs to.
const snapshotGroup = "all"

// oneGroup puts every node in the same group, so one snapshot serves all clients.
type oneGroup struct{}

func (oneGroup) ID(*core.Node) string { return snapshotGroup }

func (s *snapshotStore) cache() cache.Cache { return s.snapshots }

func (s *snapshotStore) set(service string, assignment *endpoint.ClusterLoadAssignment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assignments[service] = assignment
	s.version++
	all := make([]types.Resource, 0, len(s.assignments))
	for _, resource := range s.assignments {
		all = append(all, resource)
	}
	snapshot, err := cache.NewSnapshot(s.epoch+"-"+strconv.Itoa(s.version), map[resource.Type][]types.Resource{
		resource.EndpointType: all,
	})
	if err != nil {
		return err
	}
	return s.snapshots.SetSnapshot(s.ctx, snapshotGroup, snapshot)
}
