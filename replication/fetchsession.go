package replication

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// This file is the follower's side of a fetch session (KIP-227; Kafka's
// FetchSessionHandler): what the leader's session holds, so that each
// request names only what changed. The leader's rules are in
// tools/broker/fetchsession.

// fetchParams are one partition's fetch parameters as the leader's
// session holds them.
type fetchParams struct {
	fetchOffset, logStart         int64
	leaderEpoch, lastFetchedEpoch int32
}

// fetchSession is a fetcher's session with its leader. The zero value has
// no session: the next request is full and asks for one.
//
// Invariant: epoch == 0 (a full request next) or id != 0; sent is what
// the leader's session holds once the last request was answered.
type fetchSession struct {
	id    int32
	epoch int32 // the next request's session epoch; 0: full
	sent  map[partKey]fetchParams
	// pending is sent as it will be once the request being built is
	// answered.
	pending map[partKey]fetchParams
}

// build fills req's session fields for a round that fetches want and
// returns the partitions to list in the request (all of them in a full
// request, the added and changed ones in an incremental one) and those to
// forget. sessionless sends epoch -1 (no session).
func (s *fetchSession) build(req *kmsg.FetchRequest, want map[partKey]fetchParams, sessionless bool) (send, forget []partKey) {
	req.SessionID, req.SessionEpoch = s.id, s.epoch
	if sessionless {
		req.SessionID, req.SessionEpoch = 0, -1
	}
	s.pending = want
	for k, fp := range want {
		if old, ok := s.sent[k]; s.epoch == 0 || !ok || old != fp {
			send = append(send, k)
		}
	}
	if s.epoch != 0 {
		for k := range s.sent {
			if _, ok := want[k]; !ok {
				forget = append(forget, k)
			}
		}
	}
	return send, forget
}

// answered takes the leader's answer to the request last built: the next
// epoch, or a new session, or none. It returns the session error the
// answer carries (nil if none); the next request is then full.
func (s *fetchSession) answered(resp *kmsg.FetchResponse) error {
	if s.pending == nil {
		return nil // reset (the leader moved) while the request was out
	}
	err := kerr.ForCode(resp.ErrorCode)
	switch {
	case err == kerr.FetchSessionIDNotFound:
		*s = fetchSession{}
		return err
	case err == kerr.InvalidFetchSessionEpoch || err == kerr.FetchSessionTopicIDError:
		s.restart()
		return err
	case err != nil:
		return nil // not a session error; the caller handles it
	case resp.SessionID == 0:
		*s = fetchSession{} // sessionless, or the leader closed it
	case s.epoch == 0:
		s.id, s.epoch, s.sent = resp.SessionID, 1, s.pending
	default:
		s.epoch, s.sent = nextSessionEpoch(s.epoch), s.pending
	}
	s.pending = nil
	return nil
}

// restart makes the next request full, closing the current session on the
// leader and asking for a new one.
func (s *fetchSession) restart() {
	s.epoch, s.sent, s.pending = 0, nil, nil
}

// nextSessionEpoch is FetchMetadata.nextEpoch for a live session.
func nextSessionEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}
