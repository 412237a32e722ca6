package main

import (
	"context"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

const (
	adsMethod       = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
	deltaMethod     = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
	assignmentType  = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	reconnectPause  = 100 * time.Millisecond
	maxResponseSize = 512 << 20
	// envoyWindow is Envoy's default HTTP/2 window for a gRPC cluster (stream and connection).
	// A fixed window also turns off grpc-go's bandwidth estimation, whose PING after every
	// response Envoy never sends: each would cost the server an extra read and write.
	envoyWindow = 256 << 20
)

// arrival is one response as received: when, how many bytes, and the smallest endpoint count
// among the stream's subscribed resources once it was applied (-1 while one is still missing).
type arrival struct {
	atUs         int64
	bytes        int
	minEndpoints int
}

// stream is one simulated Envoy: its own connection, one ADS stream (state of the world, or
// delta), EDS by name.
type stream struct {
	node  string
	names []string
	delta bool

	mu         sync.Mutex
	counts     map[string]int
	arrivals   []arrival
	minNow     int
	reconnects int
	lastError  string
}

func newStream(node string, names []string, delta bool) *stream {
	return &stream{node: node, names: names, delta: delta, counts: make(map[string]int, len(names)), minNow: -1}
}

// run keeps the stream open until ctx ends, reconnecting after a pause when it breaks.
func (s *stream) run(ctx context.Context, target string) {
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Connect as soon as the server listens: the default backoff starts at 1 s.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithInitialWindowSize(envoyWindow),
		grpc.WithInitialConnWindowSize(envoyWindow),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(wireCodec{}), grpc.MaxCallRecvMsgSize(maxResponseSize)),
	)
	if err != nil {
		s.fail(err)
		return
	}
	defer conn.Close()
	for ctx.Err() == nil {
		if err := s.session(ctx, conn); err != nil && ctx.Err() == nil {
			s.fail(err)
			time.Sleep(reconnectPause)
		}
	}
}

// session subscribes once and ACKs every response until the stream breaks. The node is sent on
// the first request only, as Envoy does with set_node_on_first_message_only. In delta a
// response is ACKed by its nonce alone, and a name the server says it removed (or does not
// have) counts 0.
func (s *stream) session(ctx context.Context, conn *grpc.ClientConn) error {
	node := &core.Node{Id: s.node, Cluster: "bench"}
	method := adsMethod
	var first proto.Message = &discovery.DiscoveryRequest{Node: node, TypeUrl: assignmentType, ResourceNames: s.names}
	ack := func(response *parsedResponse) proto.Message {
		return &discovery.DiscoveryRequest{
			VersionInfo:   response.version,
			ResponseNonce: response.nonce,
			TypeUrl:       assignmentType,
			ResourceNames: s.names,
		}
	}
	if s.delta {
		method = deltaMethod
		first = &discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: assignmentType, ResourceNamesSubscribe: s.names}
		ack = func(response *parsedResponse) proto.Message {
			return &discovery.DeltaDiscoveryRequest{TypeUrl: assignmentType, ResponseNonce: response.nonce}
		}
	}
	call, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	if err := call.SendMsg(first); err != nil {
		return err
	}
	for {
		response := parsedResponse{delta: s.delta}
		if err := call.RecvMsg(&response); err != nil {
			return err
		}
		s.record(time.Now().UnixMicro(), &response)
		if err := call.SendMsg(ack(&response)); err != nil {
			return err
		}
	}
}

func (s *stream) record(at int64, response *parsedResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, count := range response.endpoints {
		s.counts[name] = count
	}
	least := -1
	for i, name := range s.names {
		count, ok := s.counts[name]
		if !ok {
			least = -1
			break
		}
		if i == 0 || count < least {
			least = count
		}
	}
	s.minNow = least
	s.arrivals = append(s.arrivals, arrival{atUs: at, bytes: response.size, minEndpoints: least})
}

func (s *stream) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reconnects++
	s.lastError = err.Error()
}
