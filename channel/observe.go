package channel

// Observer computes the K-tap aggregation observation of every link, sample
// after sample (see the package doc). Its state is the previous sample's
// observation, so it must see every sample of the series in order.
type Observer struct {
	n, k int
	prev []float32 // v_c(t-1)[i] at i*K + c
}

// NewObserver returns an observer for n links and k taps, with v_c(-1) = 0.
func NewObserver(n, k int) *Observer {
	return &Observer{n: n, k: k, prev: make([]float32, n*k)}
}

// Observe computes the observation of sample h (amplitudes, N*N row-major)
// into obs (N*K, obs[i*K+c] = v_c(t)[i]) and advances the state:
//
//	v_0(t)[i] = sum_j H[i][j],   v_c(t)[i] = sum_j H[i][j] v_{c-1}(t-1)[j]
//
// It costs K N^2 multiply-adds. obs must not alias the observer's state.
func (o *Observer) Observe(h []float32, obs []float32) {
	n, k := o.n, o.k
	for i := 0; i < n; i++ {
		row := h[i*n : i*n+n]
		out := obs[i*k : i*k+k]
		for c := range out {
			out[c] = 0
		}
		for j, a := range row {
			if a == 0 {
				continue
			}
			out[0] += a
			pj := o.prev[j*k : j*k+k]
			for c := 1; c < k; c++ {
				out[c] += float32(a * pj[c-1])
			}
		}
	}
	copy(o.prev, obs[:n*k])
}
