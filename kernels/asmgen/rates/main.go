// Command rates generates kernels/cpu/rates_amd64.s: the AVX-512 and AVX2
// kernels of the vectorized log2 / sigmoid approximations, of the per-sample
// link rates and of the axpy of the zeroth-order update.
//
// Every kernel is the assembly twin of a Go function of package cpu
// (mathvec.go, rates_simd.go, update_simd.go): same float32 operations in
// the same order, VFMADD where the twin calls mvFMA32, so that both return the
// same bits. The constants below spell the bits of the twin's constants.
//
// Run from kernels/cpu with go generate (see rates_amd64.go):
//
//	cd ../asmgen && go run ./rates -out ../cpu/rates_amd64.s -stubs ../cpu/rates_stubs_amd64.go -pkg cpu
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Constants, each stored as 16 copies (64 bytes) so that it serves as an
// m256 operand (AVX2), an m512 operand or an m32 broadcast (AVX-512).
var consts = map[string]Mem{}

func defConst(name string, bits uint32) {
	m := GLOBL("rates_"+name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(bits))
	}
	consts[name] = m
}

func c(name string) Mem {
	m, ok := consts[name]
	if !ok {
		panic("no constant " + name)
	}
	return m
}

// Bits of the twin's constants (mathvec.go).
var log2Coef = []uint32{ // c0 .. c8
	0x3fb8aa3b, 0xbf38aa38, 0x3ef639eb, 0xbeb8ae27, 0x3e9369c2,
	0xbe74adf3, 0x3e5ce48d, 0xbe543e88, 0x3e00db6f,
}

var expCoef = []uint32{ // c2 .. c6 (c0 = c1 = 1)
	0x3efffffd, 0x3e2aaa05, 0x3d2aac4d, 0x3c093689, 0x3ab55cbe,
}

func defConsts() {
	defConst("one", 0x3f800000)
	defConst("zero", 0)
	defConst("inf", 0x7f800000)
	defConst("neginf", 0xff800000)
	defConst("nan", 0x7fc00000)
	defConst("sqrthalf", 0x3f3504f3)
	defConst("mantmask", 0x007fffff)
	defConst("i127", 127)
	defConst("i16", 16)
	defConst("tiny", 0x00800000)  // 2^-126
	defConst("p2_23", 0x4b000000) // 2^23
	defConst("f23", 0x41b80000)   // 23.0
	defConst("absmask", 0x7fffffff)
	defConst("signbit", 0x80000000)
	defConst("expmin", 0xc2d00000) // -104
	defConst("log2e", 0x3fb8aa3b)
	defConst("negln2hi", 0xbf317218)
	defConst("negln2lo", 0x3102e308)
	for i, b := range log2Coef {
		defConst(fmt.Sprintf("log2c%d", i), b)
	}
	for i, b := range expCoef {
		defConst(fmt.Sprintf("expc%d", i+2), b)
	}
	// 0, 1, ..., 15 as int32.
	iota := GLOBL("rates_iota", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(uint32(i)))
	}
	consts["iota"] = iota
	perm := GLOBL("rates_perm4", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(uint32(4*i)%16))
	}
	consts["perm4"] = perm
	// Eight -1 then eight 0: the AVX2 tail masks (load 8 from 8-rem).
	tail := GLOBL("rates_tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	consts["tailmask"] = tail
	// -1 but for a 0 at 16: the AVX2 diagonal masks (load 16 from 16-q).
	nd := GLOBL("rates_notdiag", RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		v := uint32(0xffffffff)
		if i == 16 {
			v = 0
		}
		DATA(4*i, U32(v))
	}
	consts["notdiag"] = nd
}

// isa abstracts the few instruction forms that differ between the AVX-512
// (zmm, constants by embedded broadcast) and AVX2 (ymm, constants as m256)
// kernels.
type isa struct {
	name  string
	z     bool
	lanes int
}

var (
	avx512 = isa{name: "AVX512", z: true, lanes: 16}
	avx2   = isa{name: "AVX2", z: false, lanes: 8}
)

func (a isa) V() VecVirtual {
	if a.z {
		return ZMM()
	}
	return YMM()
}

// Float arithmetic with a constant second operand.
func (a isa) addC(k string, x, dst Op) {
	if a.z {
		VADDPS_BCST(c(k), x, dst)
	} else {
		VADDPS(c(k), x, dst)
	}
}

// subC: dst = x - k.
func (a isa) subC(k string, x, dst Op) {
	if a.z {
		VSUBPS_BCST(c(k), x, dst)
	} else {
		VSUBPS(c(k), x, dst)
	}
}

func (a isa) mulC(k string, x, dst Op) {
	if a.z {
		VMULPS_BCST(c(k), x, dst)
	} else {
		VMULPS(c(k), x, dst)
	}
}

// fma213C: q = f*q + k.
func (a isa) fma213C(k string, f, q Op) {
	if a.z {
		VFMADD213PS_BCST(c(k), f, q)
	} else {
		VFMADD213PS(c(k), f, q)
	}
}

// fma231C: r = x*k + r.
func (a isa) fma231C(k string, x, r Op) {
	if a.z {
		VFMADD231PS_BCST(c(k), x, r)
	} else {
		VFMADD231PS(c(k), x, r)
	}
}

// Integer and bit operations with a constant second operand.
func (a isa) psubdC(k string, x, dst Op) { // dst = x - k
	if a.z {
		VPSUBD_BCST(c(k), x, dst)
	} else {
		VPSUBD(c(k), x, dst)
	}
}

func (a isa) padddC(k string, x, dst Op) {
	if a.z {
		VPADDD_BCST(c(k), x, dst)
	} else {
		VPADDD(c(k), x, dst)
	}
}

func (a isa) pandC(k string, x, dst Op) {
	if a.z {
		VPANDD_BCST(c(k), x, dst)
	} else {
		VPAND(c(k), x, dst)
	}
}

func (a isa) porC(k string, x, dst Op) {
	if a.z {
		VPORD_BCST(c(k), x, dst)
	} else {
		VPOR(c(k), x, dst)
	}
}

func (a isa) pmaxsdC(k string, x, dst Op) {
	if a.z {
		VPMAXSD_BCST(c(k), x, dst)
	} else {
		VPMAXSD(c(k), x, dst)
	}
}

func (a isa) bcast(k string, dst Op) { VBROADCASTSS(c(k), dst) }

// VCMPPS predicates.
const (
	cmpEQ  = 0x00 // EQ_OQ
	cmpLT  = 0x01 // LT_OS
	cmpNLT = 0x05 // NLT_US: !(a < b), true for NaN
	cmpGE  = 0x0d // GE_OS
)

// sel sets dst = src where (x pred k), src a register or a constant name.
func (a isa) sel(pred int, k string, x Op, src interface{}, dst Op) {
	if a.z {
		m := K()
		VCMPPS_BCST(Imm(uint64(pred)), c(k), x, m)
		switch s := src.(type) {
		case string:
			VBROADCASTSS(c(s), m, dst)
		case Op:
			VMOVAPS(s, m, dst)
		}
		return
	}
	m := YMM()
	VCMPPS(Imm(uint64(pred)), c(k), x, m)
	switch s := src.(type) {
	case string:
		VBLENDVPS(m, c(s), dst, dst)
	case Op:
		VBLENDVPS(m, s, dst, dst)
	}
}

// log2Core emits the shared part of log2f32 and log2p1f32 on u: the split
// u = 2^e m, the correction f += cc 2^-e when cc != nil, the polynomial and
// r = fma(f, q, float(e)), with adj (if any) applied to float(e) first.
// It returns r.
func (a isa) log2Core(u, cc VecVirtual, adj func(ef VecVirtual)) VecVirtual {
	ib := a.V()
	a.psubdC("sqrthalf", u, ib) // ib = bits(u) - sqrtHalfBits
	e := a.V()
	VPSRAD(Imm(23), ib, e)
	f := a.V()
	a.pandC("mantmask", ib, f)
	a.padddC("sqrthalf", f, f) // bits of m
	a.subC("one", f, f)        // f = m - 1
	if cc != nil {
		sb := a.V()
		VPBROADCASTD(c("i127"), sb)
		VPSUBD(e, sb, sb) // 127 - e
		a.pmaxsdC("zero", sb, sb)
		VPSLLD(Imm(23), sb, sb) // 2^-e
		VFMADD231PS(sb, cc, f)  // f = cc*2^-e + f
	}
	q := a.V()
	a.bcast("log2c8", q)
	for k := 7; k >= 0; k-- {
		a.fma213C(fmt.Sprintf("log2c%d", k), f, q) // q = f*q + ck
	}
	ef := a.V()
	VCVTDQ2PS(e, ef)
	if adj != nil {
		adj(ef)
	}
	VFMADD213PS(ef, f, q) // r = f*q + ef
	return q
}

// log2Body is log2f32 on x (clobbered).
func (a isa) log2Body(x VecVirtual) VecVirtual {
	var adj func(ef VecVirtual)
	if a.z {
		k := K()
		VCMPPS_BCST(Imm(cmpLT), c("tiny"), x, k)
		VMULPS_BCST(c("p2_23"), x, k, x)
		adj = func(ef VecVirtual) { VSUBPS_BCST(c("f23"), ef, k, ef) }
	} else {
		m := YMM()
		VCMPPS(Imm(cmpLT), c("tiny"), x, m)
		t := YMM()
		VMULPS(c("p2_23"), x, t)
		VBLENDVPS(m, t, x, x)
		adj = func(ef VecVirtual) {
			VANDPS(c("f23"), m, m)
			VSUBPS(m, ef, ef)
		}
	}
	r := a.log2Core(x, nil, adj)
	a.sel(cmpNLT, "inf", x, x, r)        // +Inf, NaN: x
	a.sel(cmpEQ, "zero", x, "neginf", r) // 0: -Inf
	a.sel(cmpLT, "zero", x, "nan", r)    // x < 0: NaN
	return r
}

// log2p1Body is log2p1f32 on x.
func (a isa) log2p1Body(x VecVirtual) VecVirtual {
	u := a.V()
	a.addC("one", x, u) // u = x + 1
	t := a.V()
	a.subC("one", u, t) // u - 1
	cc := a.V()
	VSUBPS(t, x, cc) // c = x - (u-1)
	r := a.log2Core(u, cc, nil)
	a.sel(cmpNLT, "inf", u, u, r)
	return r
}

// expNeg emits expf32(x) for x <= 0 or NaN (the upper clamp of expf32 is
// the identity there and is left out); x is clobbered.
func (a isa) expNeg(x VecVirtual) VecVirtual {
	lo := a.V()
	a.bcast("expmin", lo)
	VMAXPS(x, lo, x) // x = lo > x ? lo : x (NaN passes)
	v := a.V()
	a.mulC("log2e", x, v)
	n := a.V()
	VCVTPS2DQ(v, n)
	kf := a.V()
	VCVTDQ2PS(n, kf)
	a.fma231C("negln2hi", kf, x) // r = kf*(-ln2hi) + x
	a.fma231C("negln2lo", kf, x)
	r := x
	p := a.V()
	a.bcast("expc6", p)
	for k := 5; k >= 2; k-- {
		a.fma213C(fmt.Sprintf("expc%d", k), r, p)
	}
	a.fma213C("one", r, p)
	a.fma213C("one", r, p)
	n1 := a.V()
	VPSRAD(Imm(1), n, n1)
	VPSUBD(n1, n, n) // n2 = n - n1
	a.padddC("i127", n1, n1)
	VPSLLD(Imm(23), n1, n1)
	a.padddC("i127", n, n)
	VPSLLD(Imm(23), n, n)
	VMULPS(n1, p, p)
	VMULPS(n, p, p)
	return p
}

// sigmoidBody is sigmoidApprox(z) * scale.
func (a isa) sigmoidBody(z, scale VecVirtual) VecVirtual {
	x := a.V()
	a.pandC("absmask", z, x)
	a.porC("signbit", x, x) // -|z|
	t := a.expNeg(x)
	d := a.V()
	a.addC("one", t, d)
	a.sel(cmpGE, "zero", z, "one", t) // numerator: 1 for z >= 0, else t
	VDIVPS(d, t, t)
	VMULPS(scale, t, t)
	return t
}

// slice emits func name(dst, src []float32 [, scale float32]) applying body
// to every element of dst (len(dst) <= len(src), checked by the caller).
func (a isa) slice(name string, withScale bool, body func(x, scale VecVirtual) VecVirtual) {
	sig := "func(dst, src []float32)"
	if withScale {
		sig = "func(dst, src []float32, scale float32)"
	}
	TEXT(name+a.name, NOSPLIT, sig)
	Pragma("noescape")
	dp := Load(Param("dst").Base(), GP64())
	sp := Load(Param("src").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	var scale VecVirtual
	if withScale {
		s := Load(Param("scale"), XMM())
		scale = a.V()
		VBROADCASTSS(s, scale)
	}
	i := GP64()
	XORQ(i, i)
	loop, done := name+a.name+"_loop", name+a.name+"_done"
	if a.z {
		ones := GP32()
		MOVL(U32(0xffff), ones)
		sixteen := GP64()
		MOVQ(U32(16), sixteen)
		Label(loop)
		rem := GP64()
		MOVQ(n, rem)
		SUBQ(i, rem)
		JLE(LabelRef(done))
		CMPQ(rem, sixteen)
		CMOVQGT(sixteen, rem)
		m := GP32()
		BZHIL(rem.As32(), ones, m)
		k := K()
		KMOVW(m, k)
		x := ZMM()
		VMOVUPS_Z(Mem{Base: sp, Index: i, Scale: 4}, k, x)
		y := body(x, scale)
		VMOVUPS(y, k, Mem{Base: dp, Index: i, Scale: 4})
		ADDQ(Imm(16), i)
		JMP(LabelRef(loop))
	} else {
		tbl := GP64()
		LEAQ(c("tailmask"), tbl)
		Label(loop)
		rem := GP64()
		MOVQ(n, rem)
		SUBQ(i, rem)
		JLE(LabelRef(done))
		x := YMM()
		mask := YMM()
		CMPQ(rem, Imm(8))
		JL(LabelRef(name + a.name + "_partload"))
		VMOVUPS(Mem{Base: sp, Index: i, Scale: 4}, x)
		JMP(LabelRef(name + a.name + "_compute"))
		Label(name + a.name + "_partload")
		off := GP64()
		MOVQ(U32(8), off)
		SUBQ(rem, off)
		VMOVUPS(Mem{Base: tbl, Index: off, Scale: 4}, mask)
		VMASKMOVPS(Mem{Base: sp, Index: i, Scale: 4}, mask, x)
		Label(name + a.name + "_compute")
		y := body(x, scale)
		CMPQ(rem, Imm(8))
		JL(LabelRef(name + a.name + "_partstore"))
		VMOVUPS(y, Mem{Base: dp, Index: i, Scale: 4})
		ADDQ(Imm(8), i)
		JMP(LabelRef(loop))
		Label(name + a.name + "_partstore")
		VMASKMOVPS(y, mask, Mem{Base: dp, Index: i, Scale: 4})
	}
	Label(done)
	VZEROUPPER()
	RET()
}

// ratesSample kernels: func ratesSample<ISA>(h, p []float32, sigma2
// float32, mean []float64), the twin of ratesSampleGo: for every link i < n
// = len(p), the interference of row i of h (n x n) summed over j != i in 16
// lanes (lane j%16, then the tree 16 -> 8 -> 4 -> 2 -> 1) plus sigma2, the
// SINR and mean[i] += float64(log2p1(SINR)).

// ratesSample512 emits ratesSampleAVX512, see the ratesSample kernels above.
// Rows go in groups of four (then singly), the four accumulators sharing
// each chunk of p; the diagonals of a group (whose first row is a multiple
// of 4) all lie in one chunk of 16 columns, the only chunk whose adds are
// masked; the four lane trees are reduced together by shuffles that keep
// every row's order (k + k+8, k + k+4, k + k+2, 0 + 1).
func ratesSample512() {
	name := "ratesSampleAVX512"
	TEXT(name, NOSPLIT, "func(h, p []float32, sigma2 float32, mean []float64)")
	Pragma("noescape")
	hp := Load(Param("h").Base(), GP64())
	pp := Load(Param("p").Base(), GP64())
	n := Load(Param("p").Len(), GP64())
	sigx := Load(Param("sigma2"), XMM())
	sig := ZMM()
	VBROADCASTSS(sigx, sig)
	Ibuf := AllocLocal(64)
	Sbuf := AllocLocal(64)

	pfull := GP64() // p + 4*(n &^ 15): end of the full chunks
	MOVQ(n, pfull)
	ANDQ(I32(-16), pfull)
	LEAQ(Mem{Base: pp, Index: pfull, Scale: 4}, pfull)
	rem := GP64()
	MOVQ(n, rem)
	ANDQ(Imm(15), rem)
	kt := K()
	{
		o := GP32()
		MOVL(U32(0xffff), o)
		BZHIL(rem.As32(), o, o)
		KMOVW(o, kt)
	}
	stride := GP64()
	MOVQ(n, stride)
	SHLQ(Imm(2), stride) // row stride in bytes
	s3 := GP64()
	LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, s3)
	pidx := ZMM()
	VMOVUPS(c("perm4"), pidx)

	ib := GP64()
	XORQ(ib, ib)
	rowp := GP64()
	MOVQ(hp, rowp)
	Label(name + "_block")
	rows := GP64()
	{
		nn := Load(Param("p").Len(), GP64())
		MOVQ(nn, rows)
		SUBQ(ib, rows)
		lim := GP64()
		MOVQ(U32(16), lim)
		CMPQ(rows, lim)
		CMOVQGT(lim, rows)
	}
	r := GP64()
	XORQ(r, r)

	group := func(G int) {
		L := func(s string) string { return fmt.Sprintf("%s_g%d_%s", name, G, s) }
		// Diagonal masks: row i0+rr leaves out lane (i0&15)+rr of the chunk
		// starting at column i0&^15.
		i0 := GP64()
		MOVQ(ib, i0)
		ADDQ(r, i0)
		ks := make([]Register, G)
		{
			t, q := GP32(), GP32()
			MOVL(i0.As32(), q)
			ANDL(Imm(15), q)
			MOVL(U32(1), t)
			SHLXL(q, t, t)
			for rr := 0; rr < G; rr++ {
				m := GP32()
				MOVL(t, m)
				NOTL(m)
				ks[rr] = K()
				KMOVW(m, ks[rr])
				if rr+1 < G {
					SHLL(Imm(1), t)
				}
			}
		}
		pdiag := GP64()
		ANDQ(I32(-16), i0)
		LEAQ(Mem{Base: pp, Index: i0, Scale: 4}, pdiag)
		hq, pq := GP64(), GP64()
		MOVQ(rowp, hq)
		MOVQ(pp, pq)
		accs := make([]VecVirtual, G)
		for rr := range accs {
			accs[rr] = ZMM()
			VPXORD(accs[rr], accs[rr], accs[rr])
		}
		rowMem := func(rr int) Mem {
			switch rr {
			case 0:
				return Mem{Base: hq}
			case 1:
				return Mem{Base: hq, Index: stride, Scale: 1}
			case 2:
				return Mem{Base: hq, Index: stride, Scale: 2}
			default:
				return Mem{Base: hq, Index: s3, Scale: 1}
			}
		}
		chunk := func(masked, tail bool) {
			pv := ZMM()
			if tail {
				VMOVUPS_Z(Mem{Base: pq}, kt, pv)
			} else {
				VMOVUPS(Mem{Base: pq}, pv)
			}
			for rr := 0; rr < G; rr++ {
				g := ZMM()
				if tail {
					VMOVUPS_Z(rowMem(rr), kt, g)
				} else {
					VMOVUPS(rowMem(rr), g)
				}
				VMULPS(g, g, g)
				VMULPS(pv, g, g)
				if masked {
					VADDPS(g, accs[rr], ks[rr], accs[rr])
				} else {
					VADDPS(g, accs[rr], accs[rr])
				}
			}
		}
		next := func() {
			ADDQ(Imm(64), hq)
			ADDQ(Imm(64), pq)
		}
		Label(L("before"))
		CMPQ(pq, pdiag)
		JAE(LabelRef(L("diag")))
		chunk(false, false)
		next()
		JMP(LabelRef(L("before")))
		Label(L("diag"))
		CMPQ(pdiag, pfull)
		JAE(LabelRef(L("diagtail")))
		chunk(true, false)
		next()
		Label(L("after"))
		CMPQ(pq, pfull)
		JAE(LabelRef(L("tail")))
		chunk(false, false)
		next()
		JMP(LabelRef(L("after")))
		Label(L("tail"))
		TESTQ(rem, rem)
		JZ(LabelRef(L("reduce")))
		chunk(false, true)
		JMP(LabelRef(L("reduce")))
		Label(L("diagtail"))
		chunk(true, true)
		Label(L("reduce"))
		if G == 4 {
			var w [2]VecVirtual
			for h := 0; h < 2; h++ {
				u, v := ZMM(), ZMM()
				VSHUFF32X4(Imm(0x44), accs[2*h+1], accs[2*h], u) // lanes 0-7 of both rows
				VSHUFF32X4(Imm(0xee), accs[2*h+1], accs[2*h], v) // lanes 8-15
				VADDPS(v, u, u)                                  // k + k+8
				w[h] = u
			}
			u, v := ZMM(), ZMM()
			VSHUFF32X4(Imm(0x88), w[1], w[0], u) // lanes 0-3 of the four rows
			VSHUFF32X4(Imm(0xdd), w[1], w[0], v) // lanes 4-7
			VADDPS(v, u, u)                      // k + k+4
			VPERMILPS(Imm(0x4e), u, v)
			VADDPS(v, u, u) // k + k+2
			VMOVSHDUP(u, v)
			VADDPS(v, u, u)     // 0 + 1
			VPERMPS(u, pidx, u) // lanes 0, 4, 8, 12 -> 0, 1, 2, 3
			VADDPS(sig.AsX(), u.AsX(), u.AsX())
			VMOVUPS(u.AsX(), Ibuf.Idx(r, 4))
		} else {
			acc := accs[0]
			y := YMM()
			VEXTRACTF64X4(Imm(1), acc, y)
			VADDPS(y, acc.AsY(), y) // k + k+8
			x := XMM()
			VEXTRACTF32X4(Imm(1), y, x)
			VADDPS(x, y.AsX(), x) // k + k+4
			x2 := XMM()
			VMOVHLPS(x, x, x2)
			VADDPS(x2, x, x) // k + k+2
			VMOVSHDUP(x, x2)
			VADDSS(x2, x, x) // 0 + 1
			VADDSS(sig.AsX(), x, x)
			VMOVSS(x, Ibuf.Idx(r, 4))
		}
		// Signals: row i0+rr, column i0+rr.
		{
			i := GP64()
			MOVQ(ib, i)
			ADDQ(r, i)
			d, pd := GP64(), GP64()
			LEAQ(Mem{Base: rowp, Index: i, Scale: 4}, d)
			LEAQ(Mem{Base: pp, Index: i, Scale: 4}, pd)
			for rr := 0; rr < G; rr++ {
				var m Mem
				switch rr {
				case 0:
					m = Mem{Base: d}
				case 1:
					m = Mem{Base: d, Index: stride, Scale: 1, Disp: 4}
				case 2:
					m = Mem{Base: d, Index: stride, Scale: 2, Disp: 8}
				default:
					m = Mem{Base: d, Index: s3, Scale: 1, Disp: 12}
				}
				s := XMM()
				VMOVSS(m, s)
				VMULSS(s, s, s)
				VMULSS(Mem{Base: pd, Disp: 4 * rr}, s, s)
				VMOVSS(s, Sbuf.Idx(r, 4).Offset(4*rr))
			}
		}
		if G == 4 {
			LEAQ(Mem{Base: rowp, Index: stride, Scale: 4}, rowp)
		} else {
			ADDQ(stride, rowp)
		}
		ADDQ(Imm(uint64(G)), r)
	}

	Label(name + "_four")
	left := GP64()
	MOVQ(rows, left)
	SUBQ(r, left)
	CMPQ(left, Imm(4))
	JL(LabelRef(name + "_one"))
	group(4)
	JMP(LabelRef(name + "_four"))
	Label(name + "_one")
	CMPQ(r, rows)
	JAE(LabelRef(name + "_rates"))
	group(1)
	JMP(LabelRef(name + "_one"))

	// The block's rates, lanes r < rows.
	Label(name + "_rates")
	sv := ZMM()
	VMOVUPS(Sbuf, sv)
	VDIVPS(Ibuf, sv, sv) // SINR
	rate := avx512.log2p1Body(sv)
	{
		mp := Load(Param("mean").Base(), GP64())
		o := GP32()
		MOVL(U32(0xffff), o)
		BZHIL(rows.As32(), o, o)
		klo, khi := K(), K()
		KMOVW(o, klo)
		SHRL(Imm(8), o)
		KMOVW(o, khi)
		d0, d1 := ZMM(), ZMM()
		VCVTPS2PD(rate.AsY(), d0)
		yh := YMM()
		VEXTRACTF64X4(Imm(1), rate, yh)
		VCVTPS2PD(yh, d1)
		m0, m1 := ZMM(), ZMM()
		VMOVUPD_Z(Mem{Base: mp, Index: ib, Scale: 8}, klo, m0)
		VADDPD(d0, m0, m0)
		VMOVUPD(m0, klo, Mem{Base: mp, Index: ib, Scale: 8})
		VMOVUPD_Z(Mem{Base: mp, Index: ib, Scale: 8, Disp: 64}, khi, m1)
		VADDPD(d1, m1, m1)
		VMOVUPD(m1, khi, Mem{Base: mp, Index: ib, Scale: 8, Disp: 64})
	}
	ADDQ(Imm(16), ib)
	{
		nn := Load(Param("p").Len(), GP64())
		CMPQ(ib, nn)
	}
	JL(LabelRef(name + "_block"))
	VZEROUPPER()
	RET()
}

// ratesSample256 emits ratesSampleAVX2, see the ratesSample kernels above: the
// 16 lanes of a row are two ymm accumulators; rows go in pairs (then
// singly) sharing each chunk of p; the diagonals of a pair (whose first
// row is even) lie in one chunk, the only one whose gains are masked (by an
// AND with a mask read from rates_notdiag); the two lane trees are reduced
// together.
func ratesSample256() {
	name := "ratesSampleAVX2"
	TEXT(name, NOSPLIT, "func(h, p []float32, sigma2 float32, mean []float64)")
	Pragma("noescape")
	hp := Load(Param("h").Base(), GP64())
	pp := Load(Param("p").Base(), GP64())
	n := Load(Param("p").Len(), GP64())
	sigx := Load(Param("sigma2"), XMM())
	sig := YMM()
	VBROADCASTSS(sigx, sig)
	Ibuf := AllocLocal(32)
	Sbuf := AllocLocal(32)
	Rbuf := AllocLocal(32)

	pfull := GP64()
	MOVQ(n, pfull)
	ANDQ(I32(-16), pfull)
	LEAQ(Mem{Base: pp, Index: pfull, Scale: 4}, pfull)
	rem := GP64()
	MOVQ(n, rem)
	ANDQ(Imm(15), rem)
	tm0, tm1 := YMM(), YMM() // lanes < rem, lanes 8.. < rem
	{
		rv := YMM()
		xr := XMM()
		VMOVD(rem.As32(), xr)
		VPBROADCASTD(xr, rv)
		VMOVUPS(c("iota"), tm0)
		VMOVUPS(c("iota").Offset(32), tm1)
		VPCMPGTD(tm0, rv, tm0)
		VPCMPGTD(tm1, rv, tm1)
	}
	stride := GP64()
	MOVQ(n, stride)
	SHLQ(Imm(2), stride)

	ib := GP64()
	XORQ(ib, ib)
	rowp := GP64()
	MOVQ(hp, rowp)
	Label(name + "_block")
	rows := GP64()
	{
		nn := Load(Param("p").Len(), GP64())
		MOVQ(nn, rows)
		SUBQ(ib, rows)
		lim := GP64()
		MOVQ(U32(8), lim)
		CMPQ(rows, lim)
		CMOVQGT(lim, rows)
	}
	r := GP64()
	XORQ(r, r)

	group := func(G int) {
		L := func(s string) string { return fmt.Sprintf("%s_g%d_%s", name, G, s) }
		i0 := GP64()
		MOVQ(ib, i0)
		ADDQ(r, i0)
		// Mask pointer: rates_notdiag + 4*(16 - (i0&15)); row i0+1 at -4.
		mptr := GP64()
		{
			q := GP64()
			MOVQ(i0, q)
			ANDQ(Imm(15), q)
			NEGQ(q)
			LEAQ(c("notdiag"), mptr)
			LEAQ(Mem{Base: mptr, Index: q, Scale: 4, Disp: 64}, mptr)
		}
		pdiag := GP64()
		ANDQ(I32(-16), i0)
		LEAQ(Mem{Base: pp, Index: i0, Scale: 4}, pdiag)
		hq, pq := GP64(), GP64()
		MOVQ(rowp, hq)
		MOVQ(pp, pq)
		accs := make([]VecVirtual, 2*G)
		for k := range accs {
			accs[k] = YMM()
			VXORPS(accs[k], accs[k], accs[k])
		}
		rowMem := func(rr, half int) Mem {
			if rr == 0 {
				return Mem{Base: hq, Disp: 32 * half}
			}
			return Mem{Base: hq, Index: stride, Scale: 1, Disp: 32 * half}
		}
		chunk := func(masked, tail bool) {
			pv := []VecVirtual{YMM(), YMM()}
			tm := []VecVirtual{tm0, tm1}
			for half := 0; half < 2; half++ {
				if tail {
					VMASKMOVPS(Mem{Base: pq, Disp: 32 * half}, tm[half], pv[half])
				} else {
					VMOVUPS(Mem{Base: pq, Disp: 32 * half}, pv[half])
				}
			}
			for rr := 0; rr < G; rr++ {
				for half := 0; half < 2; half++ {
					g := YMM()
					if tail {
						VMASKMOVPS(rowMem(rr, half), tm[half], g)
					} else {
						VMOVUPS(rowMem(rr, half), g)
					}
					VMULPS(g, g, g)
					VMULPS(pv[half], g, g)
					if masked {
						VANDPS(Mem{Base: mptr, Disp: 32*half - 4*rr}, g, g)
					}
					VADDPS(g, accs[2*rr+half], accs[2*rr+half])
				}
			}
		}
		next := func() {
			ADDQ(Imm(64), hq)
			ADDQ(Imm(64), pq)
		}
		Label(L("before"))
		CMPQ(pq, pdiag)
		JAE(LabelRef(L("diag")))
		chunk(false, false)
		next()
		JMP(LabelRef(L("before")))
		Label(L("diag"))
		CMPQ(pdiag, pfull)
		JAE(LabelRef(L("diagtail")))
		chunk(true, false)
		next()
		Label(L("after"))
		CMPQ(pq, pfull)
		JAE(LabelRef(L("tail")))
		chunk(false, false)
		next()
		JMP(LabelRef(L("after")))
		Label(L("tail"))
		TESTQ(rem, rem)
		JZ(LabelRef(L("reduce")))
		chunk(false, true)
		JMP(LabelRef(L("reduce")))
		Label(L("diagtail"))
		chunk(true, true)
		Label(L("reduce"))
		if G == 2 {
			y0, y1 := accs[0], accs[2]
			VADDPS(accs[1], y0, y0) // k + k+8
			VADDPS(accs[3], y1, y1)
			u, v := YMM(), YMM()
			VPERM2F128(Imm(0x20), y1, y0, u) // lanes 0-3 of both rows
			VPERM2F128(Imm(0x31), y1, y0, v) // lanes 4-7
			VADDPS(v, u, u)                  // k + k+4
			VPERMILPS(Imm(0x4e), u, v)
			VADDPS(v, u, u) // k + k+2
			VMOVSHDUP(u, v)
			VADDPS(v, u, u) // 0 + 1
			VADDPS(sig, u, u)
			VMOVSS(u.AsX(), Ibuf.Idx(r, 4))
			x := XMM()
			VEXTRACTF128(Imm(1), u, x)
			VMOVSS(x, Ibuf.Idx(r, 4).Offset(4))
		} else {
			y := accs[0]
			VADDPS(accs[1], y, y) // k + k+8
			x := XMM()
			VEXTRACTF128(Imm(1), y, x)
			VADDPS(x, y.AsX(), x) // k + k+4
			x2 := XMM()
			VMOVHLPS(x, x, x2)
			VADDPS(x2, x, x) // k + k+2
			VMOVSHDUP(x, x2)
			VADDSS(x2, x, x) // 0 + 1
			VADDSS(sig.AsX(), x, x)
			VMOVSS(x, Ibuf.Idx(r, 4))
		}
		{
			i := GP64()
			MOVQ(ib, i)
			ADDQ(r, i)
			d, pd := GP64(), GP64()
			LEAQ(Mem{Base: rowp, Index: i, Scale: 4}, d)
			LEAQ(Mem{Base: pp, Index: i, Scale: 4}, pd)
			for rr := 0; rr < G; rr++ {
				m := Mem{Base: d}
				if rr == 1 {
					m = Mem{Base: d, Index: stride, Scale: 1, Disp: 4}
				}
				s := XMM()
				VMOVSS(m, s)
				VMULSS(s, s, s)
				VMULSS(Mem{Base: pd, Disp: 4 * rr}, s, s)
				VMOVSS(s, Sbuf.Idx(r, 4).Offset(4*rr))
			}
		}
		if G == 2 {
			LEAQ(Mem{Base: rowp, Index: stride, Scale: 2}, rowp)
		} else {
			ADDQ(stride, rowp)
		}
		ADDQ(Imm(uint64(G)), r)
	}

	Label(name + "_two")
	left := GP64()
	MOVQ(rows, left)
	SUBQ(r, left)
	CMPQ(left, Imm(2))
	JL(LabelRef(name + "_one"))
	group(2)
	JMP(LabelRef(name + "_two"))
	Label(name + "_one")
	CMPQ(r, rows)
	JAE(LabelRef(name + "_rates"))
	group(1)
	JMP(LabelRef(name + "_one"))

	Label(name + "_rates")
	sv := YMM()
	VMOVUPS(Sbuf, sv)
	VDIVPS(Ibuf, sv, sv) // SINR
	rate := avx2.log2p1Body(sv)
	mp := Load(Param("mean").Base(), GP64())
	CMPQ(rows, Imm(8))
	JL(LabelRef(name + "_partial"))
	{
		d0, d1 := YMM(), YMM()
		VCVTPS2PD(rate.AsX(), d0)
		xh := XMM()
		VEXTRACTF128(Imm(1), rate, xh)
		VCVTPS2PD(xh, d1)
		VADDPD(Mem{Base: mp, Index: ib, Scale: 8}, d0, d0)
		VMOVUPD(d0, Mem{Base: mp, Index: ib, Scale: 8})
		VADDPD(Mem{Base: mp, Index: ib, Scale: 8, Disp: 32}, d1, d1)
		VMOVUPD(d1, Mem{Base: mp, Index: ib, Scale: 8, Disp: 32})
		JMP(LabelRef(name + "_next"))
	}
	Label(name + "_partial")
	{
		VMOVUPS(rate, Rbuf)
		XORQ(r, r)
		Label(name + "_scalar")
		ii := GP64()
		MOVQ(ib, ii)
		ADDQ(r, ii)
		d := XMM()
		VXORPS(d, d, d)
		VCVTSS2SD(Rbuf.Idx(r, 4), d, d)
		VADDSD(Mem{Base: mp, Index: ii, Scale: 8}, d, d)
		VMOVSD(d, Mem{Base: mp, Index: ii, Scale: 8})
		INCQ(r)
		CMPQ(r, rows)
		JL(LabelRef(name + "_scalar"))
	}
	Label(name + "_next")
	ADDQ(Imm(8), ib)
	{
		nn := Load(Param("p").Len(), GP64())
		CMPQ(ib, nn)
	}
	JL(LabelRef(name + "_block"))
	VZEROUPPER()
	RET()
}

// axpy emits func updAxpy<ISA>(y, x []float32, a float32): y[i] +=
// float32(a*x[i]) for i < len(y) (len(x) >= len(y), checked by the caller),
// by VMULPS then VADDPS, without FMA, like the generic axpy.
func (a isa) axpy() {
	name := "updAxpy" + a.name
	L := func(s string) string { return name + "_" + s }
	TEXT(name, NOSPLIT, "func(y, x []float32, a float32)")
	Pragma("noescape")
	yp := Load(Param("y").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("y").Len(), GP64())
	as := Load(Param("a"), XMM())
	av := a.V()
	VBROADCASTSS(as, av)
	w := a.lanes
	bytes := 4 * w
	i := GP64()
	XORQ(i, i)
	n4 := GP64()
	MOVQ(n, n4)
	ANDQ(I32(int32(-4*w)), n4)
	n1 := GP64()
	MOVQ(n, n1)
	ANDQ(I32(int32(-w)), n1)
	Label(L("loop4"))
	CMPQ(i, n4)
	JAE(LabelRef(L("loop1")))
	ts := []VecVirtual{a.V(), a.V(), a.V(), a.V()}
	for u, t := range ts {
		VMULPS(Mem{Base: xp, Index: i, Scale: 4, Disp: u * bytes}, av, t)
	}
	for u, t := range ts {
		VADDPS(Mem{Base: yp, Index: i, Scale: 4, Disp: u * bytes}, t, t)
	}
	for u, t := range ts {
		VMOVUPS(t, Mem{Base: yp, Index: i, Scale: 4, Disp: u * bytes})
	}
	ADDQ(U32(uint32(4*w)), i)
	JMP(LabelRef(L("loop4")))
	Label(L("loop1"))
	CMPQ(i, n1)
	JAE(LabelRef(L("tail")))
	t := a.V()
	VMULPS(Mem{Base: xp, Index: i, Scale: 4}, av, t)
	VADDPS(Mem{Base: yp, Index: i, Scale: 4}, t, t)
	VMOVUPS(t, Mem{Base: yp, Index: i, Scale: 4})
	ADDQ(U32(uint32(w)), i)
	JMP(LabelRef(L("loop1")))
	Label(L("tail"))
	CMPQ(i, n)
	JAE(LabelRef(L("done")))
	if a.z {
		rem := GP64()
		MOVQ(n, rem)
		SUBQ(i, rem)
		o := GP32()
		MOVL(U32(0xffff), o)
		BZHIL(rem.As32(), o, o)
		k := K()
		KMOVW(o, k)
		t := ZMM()
		VMULPS_Z(Mem{Base: xp, Index: i, Scale: 4}, av, k, t)
		VADDPS_Z(Mem{Base: yp, Index: i, Scale: 4}, t, k, t)
		VMOVUPS(t, k, Mem{Base: yp, Index: i, Scale: 4})
	} else {
		t := XMM()
		VMOVSS(Mem{Base: xp, Index: i, Scale: 4}, t)
		VMULSS(as, t, t)
		VADDSS(Mem{Base: yp, Index: i, Scale: 4}, t, t)
		VMOVSS(t, Mem{Base: yp, Index: i, Scale: 4})
		INCQ(i)
		JMP(LabelRef(L("tail")))
	}
	Label(L("done"))
	VZEROUPPER()
	RET()
}

func main() {
	ConstraintExpr("amd64")
	defConsts()
	for _, a := range []isa{avx512, avx2} {
		a.slice("log2Slice", false, func(x, _ VecVirtual) VecVirtual { return a.log2Body(x) })
		a.slice("log2p1Slice", false, func(x, _ VecVirtual) VecVirtual { return a.log2p1Body(x) })
		a.slice("sigmoidSlice", true, a.sigmoidBody)
		if a.z {
			ratesSample512()
		} else {
			ratesSample256()
		}
		a.axpy()
	}
	Generate()
}
