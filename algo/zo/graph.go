package zo

// Neighbours returns the communication graph of the spec: agents i != j are
// neighbours if both lie in a common index window [k, k+window) for
// k = 0, stride, 2*stride, ... < n. The result is symmetric, sorted, and
// without self-loops.
func Neighbours(n, window, stride int) [][]int {
	adj := make([][]bool, n)
	for i := range adj {
		adj[i] = make([]bool, n)
	}
	for k := 0; k < n; k += stride {
		hi := min(k+window, n)
		for i := k; i < hi; i++ {
			for j := k; j < hi; j++ {
				if i != j {
					adj[i][j] = true
				}
			}
		}
	}
	out := make([][]int, n)
	for i := range adj {
		for j, ok := range adj[i] {
			if ok {
				out[i] = append(out[i], j)
			}
		}
	}
	return out
}

// Hops returns the hop distance between all pairs of agents (-1 if
// unreachable), by breadth-first search.
func Hops(nb [][]int) [][]int {
	n := len(nb)
	d := make([][]int, n)
	for s := range d {
		d[s] = make([]int, n)
		for j := range d[s] {
			d[s][j] = -1
		}
		d[s][s] = 0
		queue := []int{s}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for _, v := range nb[u] {
				if d[s][v] < 0 {
					d[s][v] = d[s][u] + 1
					queue = append(queue, v)
				}
			}
		}
	}
	return d
}
