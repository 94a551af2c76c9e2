// Package net will own the Kafka wire protocol: framing, request and
// response headers, the API codec, the connection server with pipelined
// in-order responses, the zero-copy Fetch writer and a small client for
// broker-to-broker calls. It imports no other module of the workspace.
package net
