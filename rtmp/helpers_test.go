package rtmp

// must returns v, panicking on err: for encoding what tests know fits.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
