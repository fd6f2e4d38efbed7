// Command forward generates the SIMD kernels of the batched MLP forward pass
// of package kernels/cpu (forward_amd64.s and forward_stubs_amd64.go):
//
//	denseAVX512, denseAVX2        one dense layer, samples in vector lanes
//	denseOutAVX512, denseOutAVX2  the last hidden layer fused with the
//	                              1-output layer
//	perturbAVX512, perturbAVX2    dst = theta + float32(mu*u), vectorised,
//	                              prefetching the next agent's parameters
//	gatherRows                    observations into the feature-major layout
//	prefetchRange                 PREFETCHT0 over a slice
//
// Run it through `go generate` in kernels/cpu (see forward_amd64.go).
//
// # Layout
//
// The dense kernels keep activations feature-major: x[i*lanes + j] is
// feature i of sample j, with lanes a multiple of the vector width (16 for
// AVX-512, 8 for AVX2). The weights stay in their natural nn.Linear layout
// w[o*in + i], so that perturbed parameters need no transposition: every
// weight is broadcast to all lanes and multiplied into the samples,
//
//	dst[o*lanes + j] = act(bias[o] + sum_{i ascending} w[o*in + i] * x[i*lanes + j])
//
// one fused multiply-add (VFMADD231PS) per term, accumulated in the order
// bias, i = 0, 1, ..., in-1 in every lane. The tiling below (tiles of up to
// 16 outputs by groups of 1 or 2 sample vectors, accumulators in registers)
// changes which lanes and outputs are computed together, never the
// operations of one output, so the pure-Go twin denseTransposedGo in
// kernels/cpu reproduces the results bit for bit. ReLU is VMAXPS with the
// accumulator as second source, i.e. "0 > a ? 0 : a", which keeps NaN and
// -0 like the twin's "if a < 0".
//
// The AVX2 functions must only use X0-X15/Y0-Y15 (VEX encodings): avo's
// allocator would take X16-X31 under pressure, so their tiles keep at most
// 16 vectors live (kernels/cpu tests the generated file for it).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// tile is one register blocking of the dense kernel: vt sample vectors by up
// to ot outputs, ot*vt accumulators.
type tile struct{ vt, ot int }

type isa struct {
	name  string
	lanes int                   // float32 lanes per vector
	vec   func() reg.VecVirtual // ZMM or YMM
	bcst  bool                  // FMA with embedded broadcast (AVX-512)
	tiles []tile                // by decreasing vt; the last has vt = 1
	fused []tile                // tiles of the fused last layer (2 more registers live)
}

var (
	avx512 = isa{
		name: "AVX512", lanes: 16, vec: ZMM, bcst: true,
		tiles: []tile{{vt: 2, ot: 12}, {vt: 1, ot: 16}},
		fused: []tile{{vt: 2, ot: 12}, {vt: 1, ot: 16}},
	}
	avx2 = isa{
		name: "AVX2", lanes: 8, vec: YMM, bcst: false,
		tiles: []tile{{vt: 2, ot: 6}, {vt: 1, ot: 12}},
		fused: []tile{{vt: 2, ot: 5}, {vt: 1, ot: 12}},
	}
)

// zeroMem is a float32 zero in read-only data.
var zeroMem Mem

func main() {
	ConstraintExpr("amd64")
	zeroMem = ConstData("forwardZero", U32(0))
	for _, a := range []isa{avx512, avx2} {
		genDense(a, false)
		genDense(a, true)
		genPerturb(a)
	}
	genGather()
	genPrefetch()
	Generate()
}

// rowAddr returns the address of row r (r < len(bases)*4) of a matrix whose
// rows are stride bytes apart: bases[g] points at row 4g, stride3 = 3*stride.
func rowAddr(bases []reg.GPVirtual, stride, stride3 reg.GPVirtual, r, disp int) Mem {
	b := bases[r/4]
	switch r % 4 {
	case 0:
		return Mem{Base: b, Disp: disp}
	case 1:
		return Mem{Base: b, Index: stride, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: b, Index: stride, Scale: 2, Disp: disp}
	default:
		return Mem{Base: b, Index: stride3, Scale: 1, Disp: disp}
	}
}

// rowBases returns pointers to rows 0, 4, 8, ... (as many as h rows need) of
// a matrix starting at base with rows stride bytes apart.
func rowBases(base, stride reg.GPVirtual, h int) []reg.GPVirtual {
	bases := []reg.GPVirtual{base}
	for g := 1; 4*g < h; g++ {
		p := GP64()
		LEAQ(Mem{Base: bases[g-1], Index: stride, Scale: 4}, p)
		bases = append(bases, p)
	}
	return bases
}

// genDense generates denseAVX512/denseAVX2 (fused false) or
// denseOutAVX512/denseOutAVX2 (fused true): a hidden ReLU layer whose
// outputs, instead of being stored, are folded at once into the 1-output
// final layer, z = b3 + sum_{o ascending} w3[o]*relu(h[o]). Tiles visit the
// outputs in increasing order, so z is accumulated in exactly the order of
// a separate dense layer with out = 1, while its serial chain of FMAs
// overlaps the next tile's work.
func genDense(a isa, fused bool) {
	name := "dense" + a.name
	tiles := a.tiles
	if fused {
		name = "denseOut" + a.name
		tiles = a.fused
		TEXT(name, NOSPLIT, "func(z, x, w, bias, w3, b3 *float32, in, out, lanes int)")
		Pragma("noescape")
		Doc(
			name+" computes a ReLU layer and the 1-output layer after it on lanes",
			"samples held feature-major: h[o][j] = relu(bias[o] + sum_i w[o*in+i]*x[i*lanes+j])",
			"as denseAVX, then z[j] = *b3 + sum_o w3[o]*h[o][j] (FMAs in increasing o),",
			"without storing h.",
		)
	} else {
		TEXT(name, NOSPLIT, "func(dst, x, w, bias *float32, in, out, lanes int, relu bool)")
		Pragma("noescape")
		Doc(
			name+" computes one dense layer on lanes samples held feature-major:",
			"dst[o*lanes+j] = act(bias[o] + sum_i w[o*in+i]*x[i*lanes+j]), one FMA per",
			"term in the order bias, i = 0..in-1, act = ReLU if relu. lanes must be a",
			fmt.Sprintf("positive multiple of %d, in and out positive.", a.lanes),
		)
	}
	vbytes := 4 * a.lanes

	// (MOVQ $0 rather than XORQ: avo v0.5.0 does not know the zeroing idiom
	// and would take the register as live on entry.)
	// vb: byte offset of the current group of sample vectors in a row.
	vb := GP64()
	MOVQ(U32(0), vb)
	for ti, t := range tiles {
		loop := fmt.Sprintf("%s_v%d", name, ti)
		next := fmt.Sprintf("%s_v%d_done", name, ti)
		Label(loop)
		rem := GP64()
		Load(Param("lanes"), rem)
		SHLQ(U8(2), rem)
		SUBQ(vb, rem)
		CMPQ(rem, U32(t.vt*vbytes))
		JB(LabelRef(next))
		var z []reg.VecVirtual
		if fused {
			b3 := GP64()
			Load(Param("b3"), b3)
			for j := 0; j < t.vt; j++ {
				z = append(z, a.vec())
				VBROADCASTSS(Mem{Base: b3}, z[j])
			}
		}
		genTiles(a, t, vb, z, fmt.Sprintf("%s_v%d", name, ti))
		if fused {
			zp := GP64()
			Load(Param("z"), zp)
			for j := range z {
				VMOVUPS(z[j], Mem{Base: zp, Index: vb, Scale: 1, Disp: j * vbytes})
			}
		}
		ADDQ(U32(t.vt*vbytes), vb)
		JMP(LabelRef(loop))
		Label(next)
	}
	VZEROUPPER()
	RET()
}

// genTiles sweeps all outputs for one group of t.vt sample vectors at byte
// offset vb: full tiles of t.ot outputs, then one remainder tile. z: the
// fused output accumulators, or nil.
func genTiles(a isa, t tile, vb reg.GPVirtual, z []reg.VecVirtual, prefix string) {
	o0 := GP64()
	MOVQ(U32(0), o0)
	top := prefix + "_o"
	done := prefix + "_odone"
	full := prefix + "_full"
	Label(top)
	r := GP64()
	Load(Param("out"), r)
	SUBQ(o0, r)
	CMPQ(r, U32(t.ot))
	JAE(LabelRef(full))
	for h := t.ot - 1; h >= 1; h-- {
		CMPQ(r, U32(h))
		JE(LabelRef(fmt.Sprintf("%s_h%d", prefix, h)))
	}
	JMP(LabelRef(done))

	Label(full)
	genBlock(a, t.vt, t.ot, vb, o0, z, fmt.Sprintf("%s_h%d", prefix, t.ot))
	ADDQ(U32(t.ot), o0)
	JMP(LabelRef(top))

	for h := t.ot - 1; h >= 1; h-- {
		Label(fmt.Sprintf("%s_h%d", prefix, h))
		genBlock(a, t.vt, h, vb, o0, z, fmt.Sprintf("%s_h%d", prefix, h))
		JMP(LabelRef(done))
	}
	Label(done)
}

// genBlock computes outputs o0..o0+h-1 for vt sample vectors at vb, and
// stores them (z nil) or folds them into z.
func genBlock(a isa, vt, h int, vb, o0 reg.GPVirtual, z []reg.VecVirtual, prefix string) {
	vbytes := 4 * a.lanes
	Commentf("%d outputs x %d vectors", h, vt)

	// Row stride of w in bytes, and pointers into w at rows o0, o0+4, ...
	st := GP64()
	Load(Param("in"), st)
	SHLQ(U8(2), st)
	wp := GP64()
	MOVQ(o0, wp)
	IMULQ(st, wp)
	wbase := GP64()
	Load(Param("w"), wbase)
	ADDQ(wbase, wp)
	var st3 reg.GPVirtual
	if h > 3 {
		st3 = GP64()
		LEAQ(Mem{Base: st, Index: st, Scale: 2}, st3)
	}
	wps := rowBases(wp, st, h)

	// Accumulators start at the bias.
	bp := GP64()
	Load(Param("bias"), bp)
	acc := make([][]reg.VecVirtual, h)
	for o := range acc {
		acc[o] = make([]reg.VecVirtual, vt)
		for j := range acc[o] {
			acc[o][j] = a.vec()
			VBROADCASTSS(Mem{Base: bp, Index: o0, Scale: 4, Disp: 4 * o}, acc[o][j])
		}
	}

	// x pointer at row 0, column vb; row stride ldb = 4*lanes bytes.
	ldb := GP64()
	Load(Param("lanes"), ldb)
	SHLQ(U8(2), ldb)
	xp := GP64()
	Load(Param("x"), xp)
	ADDQ(vb, xp)
	n := GP64()
	Load(Param("in"), n)

	loop := prefix + "_i"
	Label(loop)
	xs := make([]reg.VecVirtual, vt)
	for j := range xs {
		xs[j] = a.vec()
		VMOVUPS(Mem{Base: xp, Disp: j * vbytes}, xs[j])
	}
	for o := 0; o < h; o++ {
		m := rowAddr(wps, st, st3, o, 0)
		if a.bcst {
			for j := range xs {
				VFMADD231PS_BCST(m, xs[j], acc[o][j])
			}
		} else {
			b := a.vec()
			VBROADCASTSS(m, b)
			for j := range xs {
				VFMADD231PS(b, xs[j], acc[o][j])
			}
		}
	}
	ADDQ(ldb, xp)
	for _, p := range wps {
		ADDQ(U8(4), p)
	}
	DECQ(n)
	JNZ(LabelRef(loop))

	// ReLU (always, when fused).
	if z == nil {
		relu := GP8()
		Load(Param("relu"), relu)
		TESTB(relu, relu)
		JZ(LabelRef(prefix + "_store"))
	}
	zero := a.vec()
	VBROADCASTSS(zeroMem, zero) // not VXORPS: see MOVQ $0 in genDense
	for o := range acc {
		for j := range acc[o] {
			// Intel VMAXPS dst, zero, acc: zero > acc ? zero : acc.
			VMAXPS(acc[o][j], zero, acc[o][j])
		}
	}

	if z != nil {
		// z += w3[o] * h[o], o ascending.
		w3 := GP64()
		Load(Param("w3"), w3)
		for o := range acc {
			m := Mem{Base: w3, Index: o0, Scale: 4, Disp: 4 * o}
			if a.bcst {
				for j := range z {
					VFMADD231PS_BCST(m, acc[o][j], z[j])
				}
			} else {
				b := a.vec()
				VBROADCASTSS(m, b)
				for j := range z {
					VFMADD231PS(b, acc[o][j], z[j])
				}
			}
		}
		return
	}
	Label(prefix + "_store")

	// dst pointer at row o0, column vb.
	dp := GP64()
	MOVQ(o0, dp)
	IMULQ(ldb, dp)
	dbase := GP64()
	Load(Param("dst"), dbase)
	ADDQ(dbase, dp)
	ADDQ(vb, dp)
	var ldb3 reg.GPVirtual
	if h > 3 {
		ldb3 = GP64()
		LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	}
	dps := rowBases(dp, ldb, h)
	for o := range acc {
		for j := range acc[o] {
			VMOVUPS(acc[o][j], rowAddr(dps, ldb, ldb3, o, j*vbytes))
		}
	}
}

// genGather generates gatherRows, the transposition of the observations
// into the feature-major layout; it copies bits and uses no vector unit.
func genGather() {
	TEXT("gatherRows", NOSPLIT, "func(x, obs *float32, in, nb, lanes, stride int)")
	Pragma("noescape")
	Doc(
		"gatherRows sets x[i*lanes+j] = obs[j*stride/4+i] for i < in, j < nb and",
		"x[i*lanes+j] = 0 for nb <= j < lanes (stride in bytes, in >= 1).",
	)
	ldb := GP64()
	Load(Param("lanes"), ldb)
	SHLQ(U8(2), ldb)
	src := Load(Param("obs"), GP64())
	dst := Load(Param("x"), GP64())
	stride := Load(Param("stride"), GP64())
	i := Load(Param("in"), GP64())

	Label("gather_i")
	s := GP64()
	MOVQ(src, s)
	d := GP64()
	MOVQ(dst, d)
	j := Load(Param("nb"), GP64())
	TESTQ(j, j)
	JZ(LabelRef("gather_pad"))
	Label("gather_j")
	t := GP32()
	MOVL(Mem{Base: s}, t)
	MOVL(t, Mem{Base: d})
	ADDQ(stride, s)
	ADDQ(U8(4), d)
	DECQ(j)
	JNZ(LabelRef("gather_j"))

	Label("gather_pad")
	p := Load(Param("lanes"), GP64())
	nb := Load(Param("nb"), GP64())
	SUBQ(nb, p)
	JZ(LabelRef("gather_next"))
	Label("gather_p")
	MOVL(U32(0), Mem{Base: d})
	ADDQ(U8(4), d)
	DECQ(p)
	JNZ(LabelRef("gather_p"))

	Label("gather_next")
	ADDQ(U8(4), src)
	ADDQ(ldb, dst)
	DECQ(i)
	JNZ(LabelRef("gather_i"))
	RET()
}

func genPerturb(a isa) {
	name := "perturb" + a.name
	TEXT(name, NOSPLIT, "func(dst, theta, u *float32, mu float32, n int, next1, next2 *float32)")
	Pragma("noescape")
	Doc(
		name+" sets dst[i] = theta[i] + float32(mu*u[i]) for i < n (a multiple",
		fmt.Sprintf("of %d): a rounded product, then a rounded sum, as in pure Go. It", a.lanes),
		"prefetches next1[:n] and next2[:n] (the next agent's parameters) into L1.",
	)
	vbytes := 4 * a.lanes
	const unroll = 4
	dst := Load(Param("dst"), GP64())
	theta := Load(Param("theta"), GP64())
	u := Load(Param("u"), GP64())
	n := Load(Param("n"), GP64())
	p1 := Load(Param("next1"), GP64())
	p2 := Load(Param("next2"), GP64())
	muMem, err := Param("mu").Resolve()
	if err != nil {
		panic(err)
	}
	mu := a.vec()
	VBROADCASTSS(muMem.Addr, mu)

	big := name + "_big"
	small := name + "_small"
	done := name + "_done"
	Label(big)
	CMPQ(n, U32(unroll*a.lanes))
	JB(LabelRef(small))
	for off := 0; off < unroll*vbytes; off += 64 {
		PREFETCHT0(Mem{Base: p1, Disp: off})
		PREFETCHT0(Mem{Base: p2, Disp: off})
	}
	ts := make([]reg.VecVirtual, unroll)
	for k := range ts {
		ts[k] = a.vec()
		VMULPS(Mem{Base: u, Disp: k * vbytes}, mu, ts[k])
	}
	for k := range ts {
		VADDPS(Mem{Base: theta, Disp: k * vbytes}, ts[k], ts[k])
	}
	for k := range ts {
		VMOVUPS(ts[k], Mem{Base: dst, Disp: k * vbytes})
	}
	for _, p := range []reg.Register{dst, theta, u, p1, p2} {
		ADDQ(U32(unroll*vbytes), p)
	}
	SUBQ(U32(unroll*a.lanes), n)
	JMP(LabelRef(big))

	Label(small)
	TESTQ(n, n)
	JZ(LabelRef(done))
	PREFETCHT0(Mem{Base: p1})
	PREFETCHT0(Mem{Base: p2})
	t := a.vec()
	VMULPS(Mem{Base: u}, mu, t)
	VADDPS(Mem{Base: theta}, t, t)
	VMOVUPS(t, Mem{Base: dst})
	for _, p := range []reg.Register{dst, theta, u, p1, p2} {
		ADDQ(U32(vbytes), p)
	}
	SUBQ(U32(a.lanes), n)
	JMP(LabelRef(small))

	Label(done)
	VZEROUPPER()
	RET()
}

// genPrefetch generates prefetchRange.
func genPrefetch() {
	TEXT("prefetchRange", NOSPLIT, "func(p *float32, n int)")
	Pragma("noescape")
	Doc("prefetchRange prefetches the cache lines of p[:n] (n > 0) into L1.")
	p := Load(Param("p"), GP64())
	end := Load(Param("n"), GP64())
	LEAQ(Mem{Base: p, Index: end, Scale: 4}, end)
	Label("prefetch_loop")
	PREFETCHT0(Mem{Base: p})
	ADDQ(U8(64), p)
	CMPQ(p, end)
	JB(LabelRef("prefetch_loop"))
	RET()
}
