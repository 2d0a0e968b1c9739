package anomalyd

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	anomalydv1 "github.com/anomalyd/anomalyd/clients/go/gen/anomalyd/v1"
)

// Columns holds records in columns, one entry per record in every column, for PostColumns: the
// fast path for data that is not JSON already. Field names may have dots for nested fields.
type Columns struct {
	// Times holds each record's time; a zero time marks a record without a valid time, which
	// the server counts as an invalid date.
	Times []time.Time
	// Numbers holds numeric fields; NaN marks a record that lacks the field.
	Numbers map[string][]float64
	// Strings holds string fields, every record having a value (for gaps, build an
	// anomalydv1.StringColumn with code 0 for them).
	Strings map[string][]string
}

// Batch returns the columns as a ColumnBatch, fields in name order and string fields
// dictionary-encoded. It fails if a column's length differs from that of Times.
func (c Columns) Batch() (*anomalydv1.ColumnBatch, error) {
	n := len(c.Times)
	batch := &anomalydv1.ColumnBatch{Times: make([]int64, n)}
	for i, t := range c.Times {
		batch.Times[i] = math.MinInt64
		if !t.IsZero() {
			batch.Times[i] = t.UnixMilli()
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Numbers)) {
		values := c.Numbers[name]
		if len(values) != n {
			return nil, fmt.Errorf("anomalyd: column %q has %d values for %d times", name, len(values), n)
		}
		batch.NumericColumns = append(batch.NumericColumns, &anomalydv1.NumericColumn{Name: name, Values: values})
	}
	for _, name := range slices.Sorted(maps.Keys(c.Strings)) {
		values := c.Strings[name]
		if len(values) != n {
			return nil, fmt.Errorf("anomalyd: column %q has %d values for %d times", name, len(values), n)
		}
		column := &anomalydv1.StringColumn{Name: name, Codes: make([]uint32, n)}
		index := map[string]uint32{}
		for i, value := range values {
			code, ok := index[value]
			if !ok {
				column.Dictionary = append(column.Dictionary, value)
				code = uint32(len(column.Dictionary)) // code k is Dictionary[k-1]
				index[value] = code
			}
			column.Codes[i] = code
		}
		batch.StringColumns = append(batch.StringColumns, column)
	}
	return batch, nil
}
