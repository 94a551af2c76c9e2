package cleaner

import "crypto/sha256"

// digestSize is how many bytes of a key's SHA-256 the offset map keeps.
const digestSize = 16

type digest [digestSize]byte

func keyDigest(key []byte) digest {
	sum := sha256.Sum256(key)
	return digest(sum[:digestSize])
}

// offsetMap maps a key digest to the latest offset seen for the key in
// the dirty section. Invariant: offsets only grow per key (put is called
// in offset order).
type offsetMap struct {
	m map[digest]int64
}

func newOffsetMap() *offsetMap { return &offsetMap{m: map[digest]int64{}} }

func (o *offsetMap) put(key []byte, offset int64) { o.m[keyDigest(key)] = offset }

// superseded reports whether a later record for key exists than offset.
func (o *offsetMap) superseded(key []byte, offset int64) bool {
	latest, ok := o.m[keyDigest(key)]
	return ok && latest > offset
}

func (o *offsetMap) len() int { return len(o.m) }
