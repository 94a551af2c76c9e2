// Package net is the root of Strom's Kafka wire-protocol module. The work is
// done by its sub-packages:
//
//   - wire: request/response framing and headers.
//   - apis: the table of API keys and version ranges a broker serves.
//   - fetchwire: zero-copy Fetch responses (file slices sent with sendfile).
//   - server: the connection server (pipelined, in-order responses, limits).
//   - client: a small client for broker-to-broker calls.
//   - kerr: the one table of Kafka error codes (wraps franz-go's kerr).
//
// The module imports no other module of the Strom workspace.
package net
