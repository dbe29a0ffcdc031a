package longtest

import "testing"

func TestCount(t *testing.T) {
	t.Setenv(EnvVar, "")
	if got := Count(2, 100); got != 2 {
		t.Fatalf("Count without %s = %d, want 2", EnvVar, got)
	}
	t.Setenv(EnvVar, "0")
	if got := Count(2, 100); got != 2 {
		t.Fatalf("Count with %s=0 = %d, want 2", EnvVar, got)
	}
	t.Setenv(EnvVar, "1")
	if got := Count(2, 100); got != 100 {
		t.Fatalf("Count with %s=1 = %d, want 100", EnvVar, got)
	}
}
