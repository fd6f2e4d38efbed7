// Command normals generates the AVX-512 and AVX2 kernels of
// philox.FillNormal32 (kernels/philox/normals_amd64.s).
//
// Usage (from kernels/asmgen):
//
//	go run ./normals -out ../philox/normals_amd64.s -stubs ../philox/normals_stubs_amd64.go -pkg philox
//
// The kernels repeat, lane by lane, every operation of the scalar code in
// kernels/philox (philox.go: block4, boxMuller; mathpoly.go: Ln01,
// SinCos2Pi), so their output is bit-identical to FillNormal32:
//
//   - Philox4x32-10 runs on 64-bit lanes, one block per lane, with the
//     counter words in the low halves; VPMULUDQ gives the exact 32x32->64
//     products. The high halves of the lanes may hold garbage, which no later
//     step reads (multiplies read the low halves, conversions mask).
//   - Words become doubles exactly by OR-ing their bits into the mantissa of
//     a power of two and subtracting it (no rounding anywhere): u1 =
//     ((w>>8)+1) 2^-24, and the fraction of 4 u2 within its quadrant.
//   - Every float64 multiply and add of Ln01 and SinCos2Pi is one VMULPD or
//     VADDPD/VSUBPD in the same order as the Go code, never fused; the
//     division and the square root are VDIVPD and VSQRTPD, correctly rounded
//     like Go's / and math.Sqrt; the final conversion is VCVTPD2PS
//     (round to nearest even, like Go's float32()).
//
// The kernels handle whole groups of blocks (8 for AVX-512, 4 for AVX2), in
// chunks of a few groups and two passes per chunk (Philox into a stack
// buffer, then Box-Muller): the Go wrappers in normals_amd64.go do heads and
// tails with the scalar code. The boxMullerWords functions run the second
// pass alone on given words, for an exhaustive test of the transform.
package main

import (
	"flag"
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Philox4x32 constants (kernels/philox/philox.go).
const (
	mul0  = 0xD2511F53
	mul1  = 0xCD9E8D57
	weyl0 = 0x9E3779B9
	weyl1 = 0xBB67AE85
)

// ln2 exactly as written in mathpoly.go.
const ln2 = 0.693147180559945309417232121458176568

const sqrtHalfBits = 0x3FE6A09E667F3BCD

// perm512 is the block (within a group of 8) that each 64-bit lane of the
// AVX-512 kernel computes, chosen so that in-lane unpacks of the results give
// the blocks in memory order (see groups).
var perm512 = [8]uint64{0, 2, 4, 6, 1, 3, 5, 7}

// Constant table: every entry is 32 bytes (four copies of a 64-bit value), so
// AVX2 code reads it as a full ymm operand and AVX-512 code broadcasts its
// first 8 bytes; vector entries (lane offsets) are 64 bytes.
var (
	constTab Mem
	constOff = map[string]int{}
	constLen int
)

func defConst(name string, v uint64) {
	constOff[name] = constLen
	for i := 0; i < 4; i++ {
		DATA(constLen+8*i, U64(v))
	}
	constLen += 32
}

func defConstF(name string, f float64) { defConst(name, math.Float64bits(f)) }

func defConstVec(name string, v []uint64) {
	constOff[name] = constLen
	for i, x := range v {
		DATA(constLen+8*i, U64(x))
	}
	constLen += 64
}

func cnst(name string) Mem {
	off, ok := constOff[name]
	if !ok {
		panic("unknown constant " + name)
	}
	return constTab.Offset(off)
}

func constants() {
	constTab = GLOBL("normalsConst", RODATA|NOPTR)
	// Philox.
	defConst("mul0", mul0)
	defConst("mul1", mul1)
	defConstVec("lanes512", perm512[:])
	defConstVec("lanes256", []uint64{0, 1, 2, 3, 0, 0, 0, 0})
	for _, k := range []int{4, 8, 12, 16, 24, 32} {
		defConst(fmt.Sprint("step", k), uint64(k))
	}
	// Words to doubles.
	defConst("maskU1", 0xFFFFFF00)         // (w>>8)<<8
	defConstF("magicU1", 1<<20)            // ulp 2^-32
	defConstF("offU1", 1<<20-1.0/(1<<24))  // magic - 2^-24 (exact)
	defConst("maskF", 0x3FFFFF00)          // ((w>>8) mod 2^22)<<8
	defConstF("magicF", 1<<22)             // ulp 2^-30
	defConst("mant", 1<<52-1)              // Ln01
	defConst("sqrtHalf", sqrtHalfBits)     // Ln01
	defConst("expXor", 0x4330000000000800) // AVX2 int->float of e
	defConstF("expOff", 1<<52+2048)        // AVX2 int->float of e
	defConstF("one", 1)
	defConstF("l11", 1.0/11)
	defConstF("l9", 1.0/9)
	defConstF("l7", 1.0/7)
	defConstF("l5", 1.0/5)
	defConstF("l3", 1.0/3)
	defConstF("ln2", ln2)
	defConstF("minus2", -2)
	// SinCos2Pi.
	defConstF("pi2", math.Pi/2)
	defConstF("pi4", math.Pi/4)
	defConstF("s9", 1.0/362880)
	defConstF("s7", 1.0/5040)
	defConstF("s5", 1.0/120)
	defConstF("s3", 1.0/6)
	defConstF("c10", -1.0/3628800)
	defConstF("c8", 1.0/40320)
	defConstF("c6", 1.0/720)
	defConstF("c4", 1.0/24)
	defConstF("half", 0.5)
	defConstF("rsqrt2", math.Sqrt2/2)
	defConst("sign", 1<<63)
	defConst("bit30", 1<<30)
	defConst("bit31", 1<<31)
}

// isa abstracts the two instruction sets: AVX-512 uses zmm registers and
// embedded broadcasts of 8-byte constants, AVX2 ymm registers and 32-byte
// memory operands.
type isa struct {
	avx512 bool
	slot   Mem // stack table of per-call round constants
}

func (v *isa) reg() VecVirtual {
	if v.avx512 {
		return ZMM()
	}
	return YMM()
}

// slotMem returns per-call Philox constant number i.
func (v *isa) slotMem(i int) Mem {
	if v.avx512 {
		return v.slot.Offset(8 * i)
	}
	return v.slot.Offset(32 * i)
}

type op func(...Op)

// f3 adapts a fixed three-operand instruction to op.
func f3(fn func(a, b, c Op)) op { return func(o ...Op) { fn(o[0], o[1], o[2]) } }

// V is a set of independent vectors (streams) that every step processes
// together, one instruction per stream, so that the instruction stream
// interleaves independent dependency chains.
type V []VecVirtual

func (v *isa) regs(n int) V {
	r := make(V, n)
	for i := range r {
		r[i] = v.reg()
	}
	return r
}

// c applies a two-operand instruction with a memory operand m:
// dst = a OP m (operand order as in Go assembly: memory first).
func (v *isa) c(bcst, plain op, m Mem, a V) V {
	d := v.regs(len(a))
	for i := range a {
		if v.avx512 {
			bcst(m, a[i], d[i])
		} else {
			plain(m, a[i], d[i])
		}
	}
	return d
}

func (v *isa) mulc(name string, a V) V { return v.c(VMULPD_BCST, VMULPD, cnst(name), a) }
func (v *isa) addc(name string, a V) V { return v.c(VADDPD_BCST, VADDPD, cnst(name), a) }

// subc returns a - const.
func (v *isa) subc(name string, a V) V { return v.c(VSUBPD_BCST, VSUBPD, cnst(name), a) }

func (v *isa) andc(name string, a V) V { return v.c(VPANDQ_BCST, f3(VPAND), cnst(name), a) }
func (v *isa) xorm(m Mem, a V) V       { return v.c(VPXORQ_BCST, f3(VPXOR), m, a) }
func (v *isa) addqc(name string, a V) V {
	return v.c(VPADDQ_BCST, VPADDQ, cnst(name), a)
}

// subqc returns a - const (64-bit integer lanes).
func (v *isa) subqc(name string, a V) V { return v.c(VPSUBQ_BCST, VPSUBQ, cnst(name), a) }
func (v *isa) mulu(name string, a V) V  { return v.c(VPMULUDQ_BCST, VPMULUDQ, cnst(name), a) }

// bin applies a register-register instruction: dst = f(a, b).
func (v *isa) bin(f op, a, b V) V {
	d := v.regs(len(a))
	for i := range a {
		f(a[i], b[i], d[i])
	}
	return d
}

func (v *isa) mul(a, b V) V { return v.bin(VMULPD, a, b) }
func (v *isa) add(a, b V) V { return v.bin(VADDPD, a, b) }

// sub returns a - b.
func (v *isa) sub(a, b V) V { return v.bin(VSUBPD, b, a) }

// div returns a / b.
func (v *isa) div(a, b V) V { return v.bin(VDIVPD, b, a) }

func (v *isa) shift(f op, n uint64, a V) V {
	d := v.regs(len(a))
	for i := range a {
		f(Imm(n), a[i], d[i])
	}
	return d
}

func (v *isa) shr(n uint64, a V) V { return v.shift(VPSRLQ, n, a) }
func (v *isa) shl(n uint64, a V) V { return v.shift(VPSLLQ, n, a) }

// xor3 returns a ^ b ^ m (it may overwrite a).
func (v *isa) xor3(a, b V, m Mem) V {
	if v.avx512 {
		for i := range a {
			VPTERNLOGQ_BCST(Imm(0x96), m, b[i], a[i])
		}
		return a
	}
	return v.xorm(m, v.bin(f3(VPXOR), b, a))
}

// philox runs Philox4x32-10 on the blocks whose 64-bit indices are in the
// lanes of blk and returns the four output words (low halves of the lanes).
//
// The first round is specialised: counter words 2 and 3 (the stream) are the
// same in every lane, so the product mul1*c2 and the words it feeds are
// per-call constants in the slot table:
//
//	slot 0: hi(mul1*s0) ^ k0     (new c0 = c1 ^ slot0)
//	slot 1: s1 ^ k1              (new c2 = hi(mul0*c0) ^ slot1)
//	slot 2: lo(mul1*s0) ^ (k0+weyl0)   (round 2: new c0 = hi1 ^ slot2)
//	slot 3: k1 + weyl1
//	slot 4+2(i-2), 5+2(i-2): k0, k1 of round i = 2..9.
func (v *isa) philox(blk V) (w0, w1, w2, w3 V) {
	// Round 0.
	c1 := v.shr(32, blk)
	p0 := v.mulu("mul0", blk)
	c0 := v.xorm(v.slotMem(0), c1)
	c2 := v.xorm(v.slotMem(1), v.shr(32, p0))
	c3 := p0
	// Round 1 (c1 = lo(mul1*s0) is folded into slot 2).
	p0 = v.mulu("mul0", c0)
	p1 := v.mulu("mul1", c2)
	c0 = v.xorm(v.slotMem(2), v.shr(32, p1))
	c1 = p1
	c2 = v.xor3(v.shr(32, p0), c3, v.slotMem(3))
	c3 = p0
	for i := 2; i < 10; i++ {
		p0 = v.mulu("mul0", c0)
		p1 = v.mulu("mul1", c2)
		c0 = v.xor3(v.shr(32, p1), c1, v.slotMem(4+2*(i-2)))
		c1 = p1
		c2 = v.xor3(v.shr(32, p0), c3, v.slotMem(5+2*(i-2)))
		c3 = p0
	}
	return c0, c1, c2, c3
}

// wordToDouble returns frombits((w & mask) | bits(magic)) - off, exactly.
// It may overwrite w.
func (v *isa) wordToDouble(w V, magic VecVirtual, maskName, magicName, offName string) V {
	var t V
	if v.avx512 {
		// w = (w & mask) | magic: A=w, B=magic, C=mask -> (A & C) | B.
		for i := range w {
			VPTERNLOGQ_BCST(Imm(0xEC), cnst(maskName), magic, w[i])
		}
		t = w
	} else {
		t = v.andc(maskName, w)
		t = v.c(nil, f3(VPOR), cnst(magicName), t)
	}
	return v.subc(offName, t)
}

// boxMuller returns the float64 vectors r*cos and r*sin of the lane pairs
// (we[i], wo[i]), exactly as boxMuller in philox.go.
func (v *isa) boxMuller(we, wo V, magicU1, magicF VecVirtual) (oc, os V) {
	n := len(we)
	// r = sqrt(-2 Ln01(u1)).
	u1 := v.wordToDouble(we, magicU1, "maskU1", "magicU1", "offU1")
	k := v.subqc("sqrtHalf", u1)
	var ef V
	if v.avx512 {
		e := v.shift(VPSRAQ, 52, k)
		ef = v.regs(n)
		for i := range n {
			VCVTQQ2PD(e[i], ef[i])
		}
	} else {
		// e in [-25, 0]: (k >> 52 logical) ^ 0x800 = e + 2048, OR-ed into
		// the mantissa of 2^52 (folded into one XOR), minus 2^52 + 2048.
		e := v.shr(52, k)
		e = v.xorm(cnst("expXor"), e)
		ef = v.subc("expOff", e)
	}
	m := v.andc("mant", k)
	m = v.addqc("sqrtHalf", m)
	s := v.div(v.subc("one", m), v.addc("one", m))
	s2 := v.mul(s, s)
	p := v.mulc("l11", s2)
	p = v.addc("l9", p)
	p = v.mul(s2, p)
	p = v.addc("l7", p)
	p = v.mul(s2, p)
	p = v.addc("l5", p)
	p = v.mul(s2, p)
	p = v.addc("l3", p)
	p = v.mul(s2, p)
	p = v.addc("one", p)
	t := v.mul(p, v.add(s, s)) // (2*s)*p, 2*s exact
	lnu := v.add(v.mulc("ln2", ef), t)
	r := v.mulc("minus2", lnu)
	for i := range r {
		VSQRTPD(r[i], r[i])
	}

	// sin, cos of 2 pi u2.
	wf := wo
	if v.avx512 { // keep wo for the quadrant masks below
		wf = v.regs(n)
		for i := range n {
			VMOVDQA64(wo[i], wf[i])
		}
	}
	f := v.wordToDouble(wf, magicF, "maskF", "magicF", "magicF")
	x := v.mulc("pi2", f)
	x = v.subc("pi4", x)
	x2 := v.mul(x, x)
	sp := v.mulc("s9", x2)
	sp = v.subc("s7", sp)
	sp = v.mul(x2, sp)
	sp = v.addc("s5", sp)
	sp = v.mul(x2, sp)
	sp = v.subc("s3", sp)
	sp = v.mul(x2, sp)
	sp = v.addc("one", sp)
	sn := v.mul(sp, x)
	cp := v.mulc("c10", x2)
	cp = v.addc("c8", cp)
	cp = v.mul(x2, cp)
	cp = v.subc("c6", cp)
	cp = v.mul(x2, cp)
	cp = v.addc("c4", cp)
	cp = v.mul(x2, cp)
	cp = v.subc("half", cp)
	cp = v.mul(x2, cp)
	cp = v.addc("one", cp)
	sa := v.mulc("rsqrt2", v.add(sn, cp)) // r (s + c)
	ca := v.mulc("rsqrt2", v.sub(cp, sn)) // r (c - s)
	// Quadrant q = w >> 30: odd quadrants swap sine and cosine, bit 31 flips
	// the sine, bit 30 ^ bit 31 the cosine. One stream at a time, to keep
	// few masks live.
	sb, cb := make(V, n), make(V, n)
	for i := range n {
		if v.avx512 {
			odd, sneg, cneg := K(), K(), K()
			VPTESTMQ_BCST(cnst("bit30"), wo[i], odd)  // q & 1
			VPTESTMQ_BCST(cnst("bit31"), wo[i], sneg) // q >> 1 & 1
			KXORW(sneg, odd, cneg)                    // (q ^ q>>1) & 1
			// avo counts the destination of a masked instruction as an
			// input, so blend in place (into sa and ca, after copying sa):
			// a fresh destination would look live throughout the function.
			t := ZMM()
			VMOVAPD(sa[i], t)
			VBLENDMPD(ca[i], sa[i], odd, sa[i]) // sb = odd ? ca : sa
			VBLENDMPD(t, ca[i], odd, ca[i])     // cb = odd ? sa : ca
			sb[i], cb[i] = sa[i], ca[i]
			VPXORQ_BCST(cnst("sign"), sb[i], sneg, sb[i])
			VPXORQ_BCST(cnst("sign"), cb[i], cneg, cb[i])
		} else {
			odd := v.shl(33, V{wo[i]})[0] // bit 30 -> sign bit
			sneg := v.shl(32, V{wo[i]})   // bit 31 -> sign bit
			cneg := v.andc("sign", v.bin(f3(VPXOR), V{odd}, sneg))[0]
			sneg = v.andc("sign", sneg)
			sb[i], cb[i] = v.reg(), v.reg()
			VBLENDVPD(odd, ca[i], sa[i], sb[i]) // sb = odd ? ca : sa
			VBLENDVPD(odd, sa[i], ca[i], cb[i]) // cb = odd ? sa : ca
			VXORPD(sneg[0], sb[i], sb[i])
			VXORPD(cneg, cb[i], cb[i])
		}
	}
	return v.mul(r, cb), v.mul(r, sb)
}

// toFloat32 converts four float64 lanes (AVX2) or eight (AVX-512) to float32.
func (v *isa) toFloat32(a V) V {
	d := make(V, len(a))
	for i := range a {
		if v.avx512 {
			d[i] = YMM()
			VCVTPD2PS(a[i], d[i])
		} else {
			d[i] = XMM()
			VCVTPD2PSY(a[i], d[i])
		}
	}
	return d
}

// groups computes and stores len(w0) groups of blocks (8 blocks for
// AVX-512, 4 for AVX2) from their Philox words w0..w3 (one block per lane):
// group g goes to dst + g*groupBytes.
func (v *isa) groups(w0, w1, w2, w3 V, dst Register, magicU1, magicF VecVirtual) {
	n := len(w0)
	// Pairs (w0, w1) and (w2, w3) of every group go through Box-Muller
	// together.
	oc, os := v.boxMuller(append(append(V{}, w0...), w2...), append(append(V{}, w1...), w3...), magicU1, magicF)
	c, s := v.toFloat32(oc), v.toFloat32(os)
	size := 16
	if v.avx512 {
		size = 32
	}
	for g := range n {
		ca, sa, cb, sb := c[g], s[g], c[n+g], s[n+g]
		// Interleave: lane j of (ca, sa, cb, sb) is block perm(j), outputs 0..3.
		var t0, t1, t2, t3, u0, u1, u2, u3 VecVirtual
		if v.avx512 {
			t0, t1, t2, t3, u0, u1, u2, u3 = YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
		} else {
			t0, t1, t2, t3, u0, u1, u2, u3 = XMM(), XMM(), XMM(), XMM(), XMM(), XMM(), XMM(), XMM()
		}
		VUNPCKLPS(sa, ca, t0) // ca0 sa0 ca1 sa1 (per 128-bit lane)
		VUNPCKHPS(sa, ca, t1) // ca2 sa2 ca3 sa3
		VUNPCKLPS(sb, cb, t2)
		VUNPCKHPS(sb, cb, t3)
		VUNPCKLPD(t2, t0, u0) // lane 0 (| lane 4)
		VUNPCKHPD(t2, t0, u1) // lane 1 (| lane 5)
		VUNPCKLPD(t3, t1, u2) // lane 2 (| lane 6)
		VUNPCKHPD(t3, t1, u3) // lane 3 (| lane 7)
		base := 4 * size * g
		VMOVUPS(u0, Mem{Base: dst, Disp: base + 0*size})
		VMOVUPS(u1, Mem{Base: dst, Disp: base + 1*size})
		VMOVUPS(u2, Mem{Base: dst, Disp: base + 2*size})
		VMOVUPS(u3, Mem{Base: dst, Disp: base + 3*size})
	}
}

func (v *isa) loadMagics() (magicU1, magicF VecVirtual) {
	if !v.avx512 {
		return nil, nil
	}
	magicU1, magicF = ZMM(), ZMM()
	VPBROADCASTQ(cnst("magicU1"), magicU1)
	VPBROADCASTQ(cnst("magicF"), magicF)
	return magicU1, magicF
}

// roundConstants fills the slot table (see philox) from key and stream.
func (v *isa) roundConstants() {
	key, stream := GP64(), GP64()
	Load(Param("key"), key)
	Load(Param("stream"), stream)
	k0, k1 := GP64(), GP64()
	MOVL(key.As32(), k0.As32())
	MOVQ(key, k1)
	SHRQ(U8(32), k1)
	s0, s1 := GP64(), GP64()
	MOVL(stream.As32(), s0.As32())
	MOVQ(stream, s1)
	SHRQ(U8(32), s1)
	prod := GP64()
	MOVL(U32(mul1), prod.As32())
	IMULQ(s0, prod) // exact 64-bit product of two 32-bit values
	hi1 := GP64()
	MOVQ(prod, hi1)
	SHRQ(U8(32), hi1)
	lo1 := GP64()
	MOVL(prod.As32(), lo1.As32())

	store := func(i int, g Register) {
		if v.avx512 {
			MOVQ(g, v.slotMem(i))
			return
		}
		x, y := XMM(), YMM()
		MOVQ(g, x)
		VPBROADCASTQ(x, y)
		VMOVDQU(y, v.slotMem(i))
	}
	t := GP64()
	MOVQ(hi1, t)
	XORQ(k0, t)
	store(0, t)
	t = GP64()
	MOVQ(s1, t)
	XORQ(k1, t)
	store(1, t)
	ADDL(U32(weyl0), k0.As32())
	ADDL(U32(weyl1), k1.As32())
	t = GP64()
	MOVQ(lo1, t)
	XORQ(k0, t)
	store(2, t)
	store(3, k1)
	for i := 2; i < 10; i++ {
		ADDL(U32(weyl0), k0.As32())
		ADDL(U32(weyl1), k1.As32())
		store(4+2*(i-2), k0)
		store(5+2*(i-2), k1)
	}
}

func (v *isa) allocSlots() {
	if v.avx512 {
		v.slot = AllocLocal(8 * 20)
	} else {
		v.slot = AllocLocal(32 * 20)
	}
}

// counted emits a loop that runs body(unroll) while at least unroll of the
// count groups in i remain, then body(1) for the rest; i ends at 0.
func counted(name string, i Register, unroll int, body func(g int)) {
	for _, g := range []int{unroll, 1} {
		loop, next := fmt.Sprintf("%s_%d", name, g), fmt.Sprintf("%s_%d_done", name, g)
		Label(loop)
		CMPQ(i, U32(g))
		JB(LabelRef(next))
		body(g)
		SUBQ(U32(g), i)
		JMP(LabelRef(loop))
		Label(next)
		if g == 1 {
			break
		}
	}
}

// kernel generates func name(dst []float32, key, stream, block uint64):
// len(dst) is a multiple of the group size (32 floats AVX-512, 16 AVX2).
// It loops over chunks of up to chunk groups in two passes: Philox for the
// chunk into a stack buffer of words, then Box-Muller from the buffer,
// unroll groups at a time. Each pass has short dependency chains per group,
// so the out-of-order core overlaps more groups than in one fused loop whose
// chain would run through both.
func kernel(name string, avx512 bool, unroll, chunk int) {
	TEXT(name, 0, "func(dst []float32, key, stream, block uint64)")
	Pragma("noescape")
	group, vb := 16, 32 // floats per group, bytes per vector
	shift := uint64(4)  // log2(group)
	mov := func(a, b Op) { VMOVDQU(a, b) }
	if avx512 {
		group, vb, shift = 32, 64, 5
		mov = func(a, b Op) { VMOVDQU64(a, b) }
		Doc(name+" writes normals 4*block, ... of (key, stream) to dst, 32 at a time (AVX-512F/DQ/VL).",
			"len(dst) must be a multiple of 32 and block + len(dst)/4 at most 2^62.")
	} else {
		Doc(name+" writes normals 4*block, ... of (key, stream) to dst, 16 at a time (AVX2).",
			"len(dst) must be a multiple of 16 and block + len(dst)/4 at most 2^62.")
	}
	v := &isa{avx512: avx512}
	v.allocSlots()
	buf := AllocLocal(chunk * 4 * vb)
	dst := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	v.roundConstants()
	blockGP := Load(Param("block"), GP64())
	base := v.reg()
	if avx512 {
		VPBROADCASTQ(blockGP, base)
		VPADDQ(cnst("lanes512"), base, base) // full 64-byte vector
	} else {
		x := XMM()
		MOVQ(blockGP, x)
		VPBROADCASTQ(x, base)
		VPADDQ(cnst("lanes256"), base, base)
	}
	magicU1, magicF := v.loadMagics()

	cnt, i, p := GP64(), GP64(), GP64()
	Label(name + "_chunk")
	CMPQ(n, U32(group))
	JB(LabelRef(name + "_done"))
	MOVQ(n, cnt)
	SHRQ(U8(shift), cnt)
	CMPQ(cnt, U32(chunk))
	JBE(LabelRef(name + "_pass1"))
	MOVQ(U32(chunk), cnt)

	Label(name + "_pass1")
	MOVQ(cnt, i)
	LEAQ(buf, p)
	Label(name + "_philox")
	w0, w1, w2, w3 := v.philox(V{base})
	for k, w := range []VecVirtual{w0[0], w1[0], w2[0], w3[0]} {
		mov(w, Mem{Base: p, Disp: k * vb})
	}
	step := cnst(fmt.Sprint("step", group/4))
	if avx512 {
		VPADDQ_BCST(step, base, base)
	} else {
		VPADDQ(step, base, base)
	}
	ADDQ(U32(4*vb), p)
	DECQ(i)
	JNZ(LabelRef(name + "_philox"))

	MOVQ(cnt, i)
	LEAQ(buf, p)
	counted(name+"_boxmuller", i, unroll, func(g int) {
		var w [4]V
		for j := range g {
			for k := range w {
				r := v.reg()
				mov(Mem{Base: p, Disp: (4*j + k) * vb}, r)
				w[k] = append(w[k], r)
			}
		}
		v.groups(w[0], w[1], w[2], w[3], dst, magicU1, magicF)
		ADDQ(U32(g*4*group), dst)
		ADDQ(U32(g*4*vb), p)
	})

	SHLQ(U8(shift), cnt)
	SUBQ(cnt, n)
	JMP(LabelRef(name + "_chunk"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// wordsKernel generates func name(dst []float32, words []uint32), the
// Box-Muller part of kernel alone, for tests: each group reads its words
// lane-major (w0 of every lane, then w1, w2, w3) instead of running Philox.
func wordsKernel(name string, avx512 bool, unroll int) {
	TEXT(name, NOSPLIT, "func(dst []float32, words []uint32)")
	Pragma("noescape")
	group := 16
	if avx512 {
		group = 32
	}
	Doc(name+" applies the Box-Muller transform of the kernel to words (test hook):",
		"len(dst) = len(words), a multiple of the group size; see normals_simd_test.go.")
	v := &isa{avx512: avx512}
	dst := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	src := Load(Param("words").Base(), GP64())
	magicU1, magicF := v.loadMagics()
	shift := uint64(4)
	if avx512 {
		shift = 5
	}
	SHRQ(U8(shift), n) // groups
	counted(name, n, unroll, func(g int) {
		var w [4]V
		for j := range g {
			for i := range w {
				r := v.reg()
				VPMOVZXDQ(Mem{Base: src, Disp: 4*group*j + i*group}, r)
				w[i] = append(w[i], r)
			}
		}
		v.groups(w[0], w[1], w[2], w[3], dst, magicU1, magicF)
		ADDQ(U32(4*g*group), dst)
		ADDQ(U32(4*g*group), src)
	})
	VZEROUPPER()
	RET()
}

// Tuning (Zen 4): Box-Muller groups interleaved per iteration (AVX2 has
// registers for one group only) and groups per two-pass chunk.
var (
	unroll512 = flag.Int("unroll512", 2, "AVX-512 Box-Muller groups (of 8 blocks) per iteration")
	unroll256 = flag.Int("unroll256", 1, "AVX2 Box-Muller groups (of 4 blocks) per iteration")
	chunk512  = flag.Int("chunk512", 8, "AVX-512 groups per two-pass chunk")
	chunk256  = flag.Int("chunk256", 8, "AVX2 groups per two-pass chunk")
)

func main() {
	flag.Parse()
	constants()
	kernel("normalsAVX512", true, *unroll512, *chunk512)
	kernel("normalsAVX2", false, *unroll256, *chunk256)
	wordsKernel("boxMullerWordsAVX512", true, *unroll512)
	wordsKernel("boxMullerWordsAVX2", false, *unroll256)
	Generate()
}
