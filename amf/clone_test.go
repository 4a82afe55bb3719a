package amf

import "testing"

func TestSharesNodes(t *testing.T) {
	x := StrictArray(String("a"))
	cyc := Object()
	cyc.Set("self", cyc)
	inner := Object()
	inner.Set("b", x)
	deep := Object()
	deep.Set("a", StrictArray(inner))
	deep.Set("c", x)
	for _, c := range []struct {
		name string
		v    Value
		want bool
	}{
		{"scalar", Number(1), false},
		{"tree", StrictArray(StrictArray(String("a")), Object()), false},
		{"repeat", StrictArray(x, x), true},
		{"deep repeat", deep, true},
		{"cycle", cyc, true},
	} {
		if got := SharesNodes(c.v); got != c.want {
			t.Errorf("%s: SharesNodes = %v, want %v", c.name, got, c.want)
		}
	}
}
