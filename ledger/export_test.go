package ledger

// KeysInMemory returns how many key records l holds in memory.
func KeysInMemory(l *Ledger) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
