// Command peak generates the assembly of package kernels/peak: loops of
// independent float32 fused multiply-adds (VFMADD231PS) on AVX-512 zmm and
// AVX2 ymm registers, which measure the FMA throughput of one core.
//
// Run it through go generate in kernels/peak:
//
//	cd ../asmgen && go run ./peak -out ../peak/peak_amd64.s -stubs ../peak/peak_stubs_amd64.go -pkg peak
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// accumulators is the number of independent FMA chains. It must cover FMA
// latency x FMA throughput: 4 cycles x 2 per cycle = 8 on Zen 4 (ymm; zmm
// FMAs are double-pumped, 1 per cycle) and on Intel since Skylake, 4-5 x 2
// on older Intel cores. 12 leaves slack, and with x and y it fits the 16
// ymm registers of AVX2. peak.Accumulators must be the same.
const accumulators = 12

func main() {
	loop("fmaZMM", "AVX-512", 16, ZMM)
	loop("fmaYMM", "AVX2 (FMA3)", 8, YMM)
	Generate()
}

// loop writes
//
//	func name(n int, acc *[accumulators*lanes]float32, xy *[2*lanes]float32)
//
// which loads accumulators vectors of lanes floats from acc and the vectors
// x = xy[:lanes] and y = xy[lanes:], runs n times
//
//	acc[i] += x * y (fused, one rounding)  for every i < accumulators,
//
// and stores the accumulators back: n * accumulators * lanes FMAs, each on a
// chain of its own across iterations.
func loop(name, isa string, lanes int, vec func() reg.VecVirtual) {
	bytes := 4 * lanes
	TEXT(name, NOSPLIT, fmt.Sprintf("func(n int, acc *[%d]float32, xy *[%d]float32)", accumulators*lanes, 2*lanes))
	Doc(
		fmt.Sprintf("%s runs n iterations of acc[i] += x*y (%s VFMADD231PS, %d lanes)", name, isa, lanes),
		fmt.Sprintf("on %d independent accumulators acc[i] = acc[i*%d:][:%d],", accumulators, lanes, lanes),
		fmt.Sprintf("with x = xy[:%d] and y = xy[%d:].", lanes, lanes),
	)
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	accp := Load(Param("acc"), GP64())
	xyp := Load(Param("xy"), GP64())
	x, y := vec(), vec()
	VMOVUPS(Mem{Base: xyp}, x)
	VMOVUPS(Mem{Base: xyp, Disp: bytes}, y)
	acc := make([]reg.VecVirtual, accumulators)
	for i := range acc {
		acc[i] = vec()
		VMOVUPS(Mem{Base: accp, Disp: i * bytes}, acc[i])
	}
	done := name + "_done"
	top := name + "_loop"
	TESTQ(n, n)
	JLE(LabelRef(done))
	Label(top)
	for i := range acc {
		VFMADD231PS(y, x, acc[i]) // acc[i] = x*y + acc[i]
	}
	DECQ(n)
	JNZ(LabelRef(top))
	Label(done)
	for i := range acc {
		VMOVUPS(acc[i], Mem{Base: accp, Disp: i * bytes})
	}
	VZEROUPPER()
	RET()
}
