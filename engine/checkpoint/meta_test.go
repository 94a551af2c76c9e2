package checkpoint

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMeta(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    MetaProperties
		wantErr error
	}{
		{"kafka zk mode", "#\n#Tue Nov 25 14:38:00 UTC 2025\ncluster.id=q1Sh-9_ISia_zwGINzRvyQ\nversion=0\nbroker.id=3\n",
			MetaProperties{Version: 0, BrokerID: 3, ClusterID: "q1Sh-9_ISia_zwGINzRvyQ"}, nil},
		{"old zk without cluster id", "version=0\nbroker.id=0\n", MetaProperties{}, nil},
		{"kraft", "version=1\nnode.id=7\ncluster.id=abc\ndirectory.id=xyz\n",
			MetaProperties{Version: 1, BrokerID: 7, ClusterID: "abc", Extra: map[string]string{"directory.id": "xyz"}}, nil},
		{"spaces and colon", "  version : 0 \r\n! comment\nbroker.id= 12\n", MetaProperties{BrokerID: 12}, nil},
		{"no version", "broker.id=1\n", MetaProperties{}, ErrMalformed},
		{"version 2", "version=2\nbroker.id=1\n", MetaProperties{}, ErrVersion},
		{"no broker id", "version=0\n", MetaProperties{}, ErrMalformed},
		{"v1 needs node.id", "version=1\nbroker.id=1\n", MetaProperties{}, ErrMalformed},
		{"negative id", "version=0\nbroker.id=-1\n", MetaProperties{}, ErrMalformed},
		{"not key value", "version=0\nbroker.id=1\njunk\n", MetaProperties{}, ErrMalformed},
		{"duplicate key", "version=0\nbroker.id=1\nbroker.id=2\n", MetaProperties{}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMeta([]byte(tc.in))
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMetaReadWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetaPropertiesFile)
	_, err := ReadMeta(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "a fresh log dir is distinguishable")

	want := MetaProperties{Version: 0, BrokerID: 2, ClusterID: "c-1", Extra: map[string]string{"z": "1", "a": "2"}}
	require.NoError(t, WriteMeta(path, want))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "#\nversion=0\nbroker.id=2\ncluster.id=c-1\na=2\nz=1\n", string(data))
	got, err := ReadMeta(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	for name, bad := range map[string]MetaProperties{
		"version":     {Version: 3},
		"negative id": {BrokerID: -2},
		"newline":     {ClusterID: "a\nb"},
		"extra dup":   {Extra: map[string]string{"broker.id": "1"}},
		"extra key":   {Extra: map[string]string{"a=b": "1"}},
	} {
		assert.ErrorIs(t, WriteMeta(path, bad), ErrMalformed, name)
	}
}
