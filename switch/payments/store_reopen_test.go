package payments

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// TestStoreUnavailableWhileReopening: while the journal cannot open the
// data file again, the order store's reads answer ErrStorage ("temporarily
// unavailable" to the shop), not an internal error, and read again once
// the file is back.
func TestStoreUnavailableWhileReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	j, err := journal.Open(path, journal.Options{ReopenAfter: 1})
	require.NoError(t, err)
	defer func() { require.NoError(t, j.Close()) }()
	st, err := NewStore(j.DB())
	require.NoError(t, err)
	ctx := context.Background()
	_, err = j.Append(ctx, journal.Entry{Direction: journal.Internal, Channel: "test"})
	require.NoError(t, err)

	require.NoError(t, os.Rename(path, path+".away"))
	_, err = j.Append(ctx, journal.Entry{Direction: journal.Internal, Channel: "test"})
	require.ErrorIs(t, err, journal.ErrReopening)
	_, err = st.Get("o-1")
	require.ErrorIs(t, err, ErrStorage)
	require.NotErrorIs(t, err, order.ErrNotFound)

	require.NoError(t, os.Rename(path+".away", path))
	_, err = j.Append(ctx, journal.Entry{Direction: journal.Internal, Channel: "test"})
	require.NoError(t, err)
	_, err = st.Get("o-1")
	require.ErrorIs(t, err, order.ErrNotFound)
}
