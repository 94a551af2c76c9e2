package checkpoint

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEpochs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []EpochEntry
		wantErr error
	}{
		{"empty", "", nil, nil},
		{"none", "0\n0\n", nil, nil},
		{"three", "0\n3\n0 0\n2 100\n5 250\n", []EpochEntry{{0, 0}, {2, 100}, {5, 250}}, nil},
		{"unordered is syntax-valid", "0\n2\n5 10\n1 3\n", []EpochEntry{{5, 10}, {1, 3}}, nil},
		{"bad version", "7\n0\n", nil, ErrVersion},
		{"count mismatch", "0\n2\n0 0\n", nil, ErrMalformed},
		{"three fields", "0\n1\n0 0 0\n", nil, ErrMalformed},
		{"negative epoch", "0\n1\n-1 0\n", nil, ErrMalformed},
		{"negative offset", "0\n1\n0 -3\n", nil, ErrMalformed},
		{"epoch overflow", "0\n1\n2147483648 0\n", nil, ErrMalformed},
		{"hex", "0\n1\n0x1 0\n", nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEpochs([]byte(tc.in))
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEpochsReadWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), LeaderEpochFile)
	got, err := ReadEpochs(path)
	require.NoError(t, err)
	assert.Empty(t, got)

	want := []EpochEntry{{0, 0}, {3, 17}, {4, 1 << 33}}
	require.NoError(t, WriteEpochs(path, want))
	got, err = ReadEpochs(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = FormatEpochs([]EpochEntry{{-1, 0}})
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorIs(t, WriteEpochs(path, []EpochEntry{{0, -1}}), ErrMalformed)
}
