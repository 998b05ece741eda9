package source

import "cmp"

// Pos places a record in a stream (WAL mode): the commit position of its transaction,
// then its place in the transaction. Positions grow in stream order, which is commit
// order, where the WAL positions of the records themselves do not: a transaction that
// began first may commit last.
type Pos struct {
	// Commit is the WAL position of its transaction's commit record.
	Commit uint64
	// Index counts the transaction's records from 0.
	Index uint32
}

// Compare returns -1, 0 or +1 as p comes before, at or after q in the stream.
func (p Pos) Compare(q Pos) int {
	if c := cmp.Compare(p.Commit, q.Commit); c != 0 {
		return c
	}
	return cmp.Compare(p.Index, q.Index)
}
