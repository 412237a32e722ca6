package main

import (
	"fmt"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// parsedResponse is what the client keeps of a DiscoveryResponse (or, with delta set before
// receiving, a DeltaDiscoveryResponse): it is read straight from the wire bytes, without
// decoding the assignments into objects, so the client spends little CPU on the same cores as
// the server it measures.
type parsedResponse struct {
	delta     bool
	version   string
	nonce     string
	size      int
	endpoints map[string]int
}

// wireCodec sends requests as protobuf messages and parses responses into parsedResponse.
type wireCodec struct{}

// Name keeps the standard content type, application/grpc+proto.
func (wireCodec) Name() string { return "proto" }

func (wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	message, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("wireCodec: cannot send %T", v)
	}
	data, err := proto.Marshal(message)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(data)}, nil
}

func (wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	response, ok := v.(*parsedResponse)
	if !ok {
		return fmt.Errorf("wireCodec: cannot receive into %T", v)
	}
	var bytes []byte
	if len(data) == 1 {
		bytes = data[0].ReadOnlyData()
	} else {
		bytes = data.Materialize()
	}
	if response.delta {
		return parseDeltaResponse(bytes, response)
	}
	return parseDiscoveryResponse(bytes, response)
}

// Field numbers of the messages read here (envoy.service.discovery.v3, envoy.config.endpoint.v3,
// google.protobuf.Any).
const (
	responseVersion     = 1
	responseResources   = 2
	responseNonce       = 5
	deltaResources      = 2
	deltaNonce          = 5
	deltaRemoved        = 6
	resourceBody        = 2
	anyValue            = 2
	assignmentName      = 1
	assignmentEndpoints = 2
	lbEndpoints         = 2
	lbHealthStatus      = 2
	// envoy.config.core.v3.HealthStatus values that take an endpoint out of load balancing.
	statusUnhealthy = 2
	statusDraining  = 3
	statusTimeout   = 4
)

// healthyOnly (-count=healthy) counts only endpoints whose health status lets them serve.
var healthyOnly bool

func parseDiscoveryResponse(b []byte, into *parsedResponse) error {
	into.size = len(b)
	into.endpoints = map[string]int{}
	return eachField(b, func(number protowire.Number, value []byte) error {
		switch number {
		case responseVersion:
			into.version = string(value)
		case responseNonce:
			into.nonce = string(value)
		case responseResources:
			return readAssignment(value, into.endpoints)
		}
		return nil
	})
}

// parseDeltaResponse reads a DeltaDiscoveryResponse: its nonce, its resources' assignments, and
// its removed names (0 endpoints each).
func parseDeltaResponse(b []byte, into *parsedResponse) error {
	into.size = len(b)
	into.endpoints = map[string]int{}
	return eachField(b, func(number protowire.Number, value []byte) error {
		switch number {
		case deltaNonce:
			into.nonce = string(value)
		case deltaRemoved:
			into.endpoints[string(value)] = 0
		case deltaResources:
			return eachField(value, func(number protowire.Number, value []byte) error {
				if number != resourceBody {
					return nil
				}
				return readAssignment(value, into.endpoints)
			})
		}
		return nil
	})
}

// readAssignment counts the endpoints of the ClusterLoadAssignment in a google.protobuf.Any.
func readAssignment(b []byte, endpoints map[string]int) error {
	return eachField(b, func(number protowire.Number, value []byte) error {
		if number != anyValue {
			return nil
		}
		name, count, err := countEndpoints(value)
		endpoints[name] = count
		return err
	})
}

// countEndpoints reads a ClusterLoadAssignment's name and counts its LbEndpoints.
func countEndpoints(b []byte) (string, int, error) {
	name, count := "", 0
	err := eachField(b, func(number protowire.Number, value []byte) error {
		switch number {
		case assignmentName:
			name = string(value)
		case assignmentEndpoints:
			return eachField(value, func(number protowire.Number, endpoint []byte) error {
				if number == lbEndpoints && (!healthyOnly || serves(endpoint)) {
					count++
				}
				return nil
			})
		}
		return nil
	})
	return name, count, err
}

// serves reads an LbEndpoint's health_status: false when it is UNHEALTHY, DRAINING or TIMEOUT.
func serves(b []byte) bool {
	for len(b) > 0 {
		number, kind, n := protowire.ConsumeTag(b)
		if n < 0 {
			return true
		}
		b = b[n:]
		if number == lbHealthStatus && kind == protowire.VarintType {
			status, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return true
			}
			return status != statusUnhealthy && status != statusDraining && status != statusTimeout
		}
		m := protowire.ConsumeFieldValue(number, kind, b)
		if m < 0 {
			return true
		}
		b = b[m:]
	}
	return true
}

// eachField calls visit with every length-delimited field; other wire types are skipped.
func eachField(b []byte, visit func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		number, kind, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if kind == protowire.BytesType {
			value, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			if err := visit(number, value); err != nil {
				return err
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(number, kind, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		b = b[m:]
	}
	return nil
}
