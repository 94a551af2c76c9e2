package corpus

import (
	"fmt"
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/wire"
)

// Request is one seed request frame (without the size prefix).
type Request struct {
	// Name says what it is, e.g. "Produce-v9-filled".
	Name string
	// Key and Version of the request.
	Key, Version int16
	// Frame is the request header plus body, as sent after the size prefix.
	Frame []byte
}

// Requests returns, for every key and version in ranges, two request
// frames encoded by kmsg: one default-filled ("default": kmsg's defaults,
// empty arrays) and one with every array holding one element and every
// field set ("filled"), so the decoder of every nested struct is reached.
func Requests(ranges []apis.Range) ([]Request, error) {
	clientID := "fuzz-seed"
	var out []Request
	for _, r := range ranges {
		for v := r.Min; v <= r.Max; v++ {
			for _, fill := range []bool{false, true} {
				req := kmsg.RequestForKey(r.Key)
				if req == nil {
					return nil, fmt.Errorf("corpus: key %d unknown to kmsg", r.Key)
				}
				kind := "default"
				if fill {
					kind = "filled"
					Fill(req)
				}
				req.SetVersion(v)
				frame := wire.AppendRequestHeader(nil, r.Key, v, int32(v)+1, &clientID)
				frame = req.AppendTo(frame)
				out = append(out, Request{
					Name: fmt.Sprintf("%s-v%d-%s", kmsg.NameForKey(r.Key), v, kind),
					Key:  r.Key, Version: v, Frame: frame,
				})
			}
		}
	}
	return out, nil
}

// Fill sets every exported field of the struct v points to: strings to
// "s", numbers to 1, bools to true, byte slices to "b", other slices to one
// filled element, pointers to a filled value. kmsg's Version fields and
// unknown-tag sections are left alone.
func Fill(v any) {
	fill(reflect.ValueOf(v).Elem(), 0)
}

func fill(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[kmsg.Tags]() {
			return
		}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "Version" {
				continue
			}
			fill(v.Field(i), depth+1)
		}
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		v.SetInt(1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		v.SetUint(1)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(1)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("b"))
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	}
}
