package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/net/wire"
)

// DecodeRequest decodes one request frame (the bytes after the size prefix)
// exactly as the server does for every frame it reads: the request header,
// then, if table serves the key at that version, the body with kmsg. The
// body's byte fields are sub-slices of frame.
//
// On an error after the header was read the returned Request is non-nil
// with Key, Version, CorrelationID, ClientID and Size set and Body nil; a key
// or version outside table fails with an error wrapping
// kerr.UnsupportedVersion. Conn is left zero.
//
// Memory: kmsg rejects an array or string length larger than the bytes left
// in the frame before allocating it, so decoding allocates O(len(frame)):
// at most ~24 bytes per frame byte, for arrays of empty elements (measured
// in the fuzz module).
func DecodeRequest(frame []byte, table apis.Table) (*Request, error) {
	hdr, body, err := wire.ParseRequestHeader(frame)
	if err != nil {
		return nil, err
	}
	req := &Request{Key: hdr.Key, Version: hdr.Version, CorrelationID: hdr.CorrelationID,
		ClientID: hdr.ClientID, Size: len(frame)}
	if !table.Supports(hdr.Key, hdr.Version) {
		return req, fmt.Errorf("%w: %s (key %d) v%d", kerr.UnsupportedVersion, kmsg.NameForKey(hdr.Key), hdr.Key, hdr.Version)
	}
	kreq := kmsg.RequestForKey(hdr.Key)
	kreq.SetVersion(hdr.Version)
	if err := kreq.ReadFrom(body); err != nil {
		return req, fmt.Errorf("decoding %s v%d: %w", kmsg.NameForKey(hdr.Key), hdr.Version, err)
	}
	req.Body = kreq
	return req, nil
}
