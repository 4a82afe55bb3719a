//go:build race

package ssas

const raceEnabled = true
