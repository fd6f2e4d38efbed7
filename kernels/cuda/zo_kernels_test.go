package cuda_test

import (
	"math"
	"strconv"
	"testing"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/kernels/cuda"
	"github.com/batchrun/batchrun/kernels/cuda/cudatest"
	"github.com/batchrun/batchrun/kernels/cuda/emu"
	"github.com/batchrun/batchrun/kernels/philox"
)

// These tests run the zo kernels' CUDA C sources on the host emulator
// (package cuda/emu) and compare them with the Go code they mirror: bit
// for bit where the Go code rounds every operation explicitly (random
// numbers, channel, observation, update), to float tolerance elsewhere.

func emuQueue(t *testing.T) cuda.Queue {
	t.Helper()
	q, err := cudatest.Device(t, emu.Options{}).NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func launch(t *testing.T, q cuda.Queue, kernel string, grid, block cuda.Dim, args ...uint64) {
	t.Helper()
	if err := q.Launch(kernel, grid, block, args...); err != nil {
		t.Fatal(err)
	}
}

func sameBits32(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v bit for bit", what, i, got[i], want[i])
		}
	}
}

// TestChannelAndObservationBitForBit runs 3 rounds of 7 samples of the
// AR(1) channel (with a threshold that zeroes some gains) and the
// observation recursion for 3 seeds, against channel.AR1 and
// channel.Observer; then the Rayleigh channel.
func TestChannelAndObservationBitForBit(t *testing.T) {
	q := emuQueue(t)
	const S, N, K, Q = 3, 5, 4, 7
	nn := N * N
	keys := []uint64{philox.SplitMix64(1), philox.SplitMix64(2), philox.SplitMix64(3)}
	const stream = 2 << 56
	pl := make([]float32, S*nn)
	procs := make([]*channel.AR1, S)
	obs := make([]*channel.Observer, S)
	for s := range keys {
		loss := make([]float64, nn)
		for i := range loss {
			loss[i] = 0.05 + float64((i*7+s*3)%11)/10
		}
		p, err := channel.NewAR1(loss, 0.3, 0.05, keys[s], stream)
		if err != nil {
			t.Fatal(err)
		}
		procs[s], obs[s] = p, channel.NewObserver(N, K)
		for i, v := range loss {
			pl[s*nn+i] = float32(v)
		}
	}
	dKeys, dPL := cudatest.Put(t, q, keys), cudatest.Put(t, q, pl)
	f, _ := q.Alloc(int64(S * nn * 4))
	h, _ := q.Alloc(int64(S * Q * nn * 4))
	x, _ := q.Alloc(int64(S * Q * N * K * 4))
	prev, _ := q.Alloc(int64(S * N * K * 4))
	gotH, gotX := make([]float32, S*Q*nn), make([]float32, S*Q*N*K)
	wantH, wantX := make([]float32, S*Q*nn), make([]float32, S*Q*N*K)
	a, b := float32(math.Sqrt(0.7)), float32(math.Sqrt(0.3))
	zeros := 0
	for round := 0; round < 3; round++ {
		launch(t, q, "zo_channel_ar1", cuda.Grid(S*nn, 32), cuda.D1(32), dKeys.Arg(), cuda.U64(stream), dPL.Arg(), f.Arg(), h.Arg(),
			cuda.U64(uint64(Q*nn)), cuda.I32(S), cuda.I32(nn), cuda.I32(Q), cuda.U64(uint64(round*Q)), cuda.F32(a), cuda.F32(b), cuda.F32(0.05))
		launch(t, q, "zo_observe", cuda.D1(S), cuda.D1(4), h.Arg(), cuda.U64(uint64(Q*nn)), x.Arg(), cuda.U64(uint64(Q*N*K)), prev.Arg(),
			cuda.I32(N), cuda.I32(K), cuda.I32(Q))
		cudatest.Get(t, q, gotH, h)
		cudatest.Get(t, q, gotX, x)
		for s := range keys {
			for j := 0; j < Q; j++ {
				hs := wantH[(s*Q+j)*nn:][:nn]
				procs[s].Next(hs)
				obs[s].Observe(hs, wantX[(s*Q+j)*N*K:][:N*K])
			}
		}
		for _, v := range wantH {
			if v == 0 {
				zeros++
			}
		}
		sameBits32(t, "h", gotH, wantH)
		sameBits32(t, "x", gotX, wantX)
	}
	if zeros == 0 {
		t.Error("the threshold zeroed no gain: the test does not cover it")
	}

	r, err := channel.NewRayleigh(N, keys[1], stream)
	if err != nil {
		t.Fatal(err)
	}
	launch(t, q, "zo_channel_rayleigh", cuda.Grid(S*nn, 32), cuda.D1(32), dKeys.Arg(), cuda.U64(stream), h.Arg(),
		cuda.U64(uint64(Q*nn)), cuda.I32(S), cuda.I32(nn), cuda.I32(Q), cuda.U64(5))
	cudatest.Get(t, q, gotH, h)
	for j := 0; j < 5+Q; j++ {
		r.Next(wantH[:nn])
		if j >= 5 {
			sameBits32(t, "rayleigh h", gotH[(Q+j-5)*nn:][:nn], wantH[:nn])
		}
	}
}

// TestPerturbBitForBit draws the directions of one iteration for two
// seeds and three agents (P not a multiple of 4), with async exploration,
// against philox.FillNormal32 and philox.Float64.
func TestPerturbBitForBit(t *testing.T) {
	q := emuQueue(t)
	const S, A, P, slots, slot = 2, 3, 13, 4, 2
	keys := []uint64{philox.SplitMix64(9), philox.SplitMix64(10)}
	const stream, explore = 5<<56 | 17, 6<<56 | 17
	const upP = 0.6
	ring, _ := q.Alloc(int64(S * A * slots * P * 4))
	explored, _ := q.Alloc(int64(S * A * slots))
	launch(t, q, "zo_perturb", cuda.Grid(S*A*((P+3)/4), 8), cuda.D1(8), cudatest.Put(t, q, keys).Arg(), cuda.U64(stream), ring.Arg(), explored.Arg(),
		cuda.I32(S), cuda.I32(A), cuda.I32(P), cuda.I32(slots), cuda.I32(slot), cuda.I32(1), cuda.U64(explore), cuda.F64(upP))
	got := make([]float32, S*A*slots*P)
	gotE := make([]uint8, S*A*slots)
	cudatest.Get(t, q, got, ring)
	cudatest.Get(t, q, gotE, explored)
	want := make([]float32, P)
	seen := map[bool]int{}
	for s, key := range keys {
		for a := 0; a < A; a++ {
			e := philox.Float64(key, explore, uint64(a)) < upP
			seen[e]++
			if (gotE[(s*A+a)*slots+slot] == 1) != e {
				t.Fatalf("seed %d agent %d: explored %d, want %v", s, a, gotE[(s*A+a)*slots+slot], e)
			}
			clear(want)
			if e {
				philox.FillNormal32(want, key, stream|uint64(a)<<32, 0)
			}
			sameBits32(t, "u", got[((s*A+a)*slots+slot)*P:][:P], want)
		}
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Errorf("exploration draws %v: the test covers only one case", seen)
	}
}

// TestUpdateBitForBit applies the age-grouped update with some zero
// coefficients against the CPU's generic kernel.
func TestUpdateBitForBit(t *testing.T) {
	q := emuQueue(t)
	const S, A, P, slots = 2, 3, 11, 5
	theta := make([]float32, S*A*P)
	ring := make([]float32, S*A*slots*P)
	coef := make([]float32, S*A*slots)
	philox.FillNormal32(theta, 1, 1, 0)
	philox.FillNormal32(ring, 1, 2, 0)
	philox.FillNormal32(coef, 1, 3, 0)
	for i := range coef {
		if i%3 == 0 {
			coef[i] = 0
		}
	}
	dTheta := cudatest.Put(t, q, theta)
	launch(t, q, "zo_update", cuda.Grid(S*A*P, 16), cuda.D1(16), dTheta.Arg(), cudatest.Put(t, q, ring).Arg(), cudatest.Put(t, q, coef).Arg(),
		cuda.I32(S), cuda.I32(A), cuda.I32(P), cuda.I32(slots))
	got := make([]float32, len(theta))
	cudatest.Get(t, q, got, dTheta)
	be, _ := cpu.NewVariant(cpu.Generic)
	be.Update(&kernels.Update{S: S, N: A, P: P, Slots: slots, Theta: theta, ThetaSeedStride: A * P, ThetaAgentStride: P,
		Ring: ring, RingSeedStride: A * slots * P, RingAgentStride: slots * P, Coef: coef})
	sameBits32(t, "theta", got, theta)
}

// TestForwardAndRates compares the forward kernels (every width that
// holds the network) and the rates with the CPU's generic kernels on
// random inputs: powers within 1e-5 of Pmax, rates within 1e-12 relative.
func TestForwardAndRates(t *testing.T) {
	q := emuQueue(t)
	const S, N, B, In = 2, 4, 5, 3
	hidden := []int{7, 5}
	net := kernels.MLP{In: In, Hidden: hidden}
	P := net.NumParams()
	theta := make([]float32, S*N*P)
	u := make([]float32, S*N*P)
	obs := make([]float32, S*B*N*In)
	h := make([]float32, S*B*N*N)
	philox.FillNormal32(theta, 2, 1, 0)
	philox.FillNormal32(u, 2, 2, 0)
	philox.FillNormal32(obs, 2, 3, 0)
	philox.FillNormal32(h, 2, 4, 0)
	for i := range h {
		h[i] = float32(math.Abs(float64(h[i])))
	}
	const mu, pmax = 0.5, 10
	want := make([]float32, S*B*N)
	be, _ := cpu.NewVariant(cpu.Generic)
	be.Forward(&kernels.Forward{Net: net, S: S, N: N, B: B, Theta: theta, ThetaSeedStride: N * P, ThetaAgentStride: P,
		U: u, USeedStride: N * P, UAgentStride: P, Mu: mu, Obs: obs, ObsSeedStride: B * N * In, Pmax: pmax, Power: want, PowerSeedStride: B * N})
	dHidden := cudatest.Put(t, q, []int32{7, 5})
	dTheta, dU, dObs := cudatest.Put(t, q, theta), cudatest.Put(t, q, u), cudatest.Put(t, q, obs)
	power, _ := q.Alloc(int64(S * B * N * 4))
	got := make([]float32, S*B*N)
	for _, w := range cuda.ForwardWidths {
		launch(t, q, "zo_forward_w"+strconv.Itoa(w), cuda.Grid(S*N*B, 16), cuda.D1(16), dTheta.Arg(), cuda.U64(uint64(N*P)), cuda.U64(uint64(P)),
			dU.Arg(), cuda.U64(uint64(N*P)), cuda.U64(uint64(P)), cuda.F32(mu), dObs.Arg(), cuda.U64(uint64(B*N*In)), power.Arg(),
			cuda.U64(uint64(B*N)), cuda.I32(S), cuda.I32(N), cuda.I32(B), cuda.I32(In), dHidden.Arg(), cuda.I32(2), cuda.F32(pmax))
		cudatest.Get(t, q, got, power)
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*pmax {
				t.Fatalf("width %d: power[%d] = %v, want %v", w, i, got[i], want[i])
			}
		}
	}
	mean, _ := q.Alloc(int64(S * N * 8))
	launch(t, q, "zo_rates", cuda.Grid(S*N, 4), cuda.D1(4), cudatest.Put(t, q, h).Arg(), cuda.U64(uint64(B*N*N)), cudatest.Put(t, q, want).Arg(),
		cuda.U64(uint64(B*N)), cuda.F64(0.5), mean.Arg(), cuda.I32(S), cuda.I32(N), cuda.I32(B))
	gotRate := make([]float64, S*N)
	cudatest.Get(t, q, gotRate, mean)
	wantRate := make([]float64, S*N)
	be.Rates(&kernels.Rates{S: S, N: N, B: B, H: h, HSeedStride: B * N * N, Power: want, PowerSeedStride: B * N, Sigma2: 0.5, MeanRate: wantRate})
	for i := range wantRate {
		if d := math.Abs(gotRate[i]-wantRate[i]) / wantRate[i]; d > 1e-12 {
			t.Fatalf("rate[%d] = %v, want %v", i, gotRate[i], wantRate[i])
		}
	}
}
