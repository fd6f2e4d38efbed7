package batch

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// AvailableMemory returns the memory the operating system reports as
// available for new work (MemAvailable of /proc/meminfo, in bytes), or 0 if
// it cannot tell (not Linux, or no /proc).
func AvailableMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
