// Command goro-bench-go runs the Go twins of goro-bench's workloads, one workload per
// process, and prints the same JSON result lines as `goro-bench run`:
//
//	{"workload": "skynet", "system": "go", "value": 1030.5, "unit": "ms"}
//
// The harness (`cargo xtask bench`) builds it with the `go` on PATH and runs it as
//
//	goro-bench-go --n N [--workers W] [--sweep] WORKLOAD
//
// Each workload mirrors the Rust one in bench/src/goro_impl.rs line for line where the
// languages allow: same sizes, same shape of work, same result checks.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	workers int
	sweep   bool
)

func main() {
	n := flag.Uint64("n", 0, "problem size (see `goro-bench list`)")
	flag.IntVar(&workers, "workers", 0, "GOMAXPROCS (0 = Go's default)")
	flag.BoolVar(&sweep, "sweep", false, "add the worker count to each result line")
	flag.Parse()
	if flag.NArg() != 1 || *n == 0 {
		fmt.Fprintln(os.Stderr, "usage: goro-bench-go --n N [--workers W] [--sweep] WORKLOAD")
		os.Exit(2)
	}
	if workers > 0 {
		runtime.GOMAXPROCS(workers)
	}
	switch name := flag.Arg(0); name {
	case "spawn":
		spawn(*n)
	case "spawn-plain":
		spawnPlain(*n)
	case "yield":
		yield(*n)
	case "pingpong":
		pingpong(*n)
	case "thread-ring":
		threadRing(*n)
	case "skynet":
		skynetBench(*n)
	case "park":
		park(*n)
	case "select":
		selectBench(*n)
	case "echo-latency":
		echoBench(name, 1, *n)
	case "echo-throughput":
		echoBench(name, min(echoConns, *n), *n)
	default:
		fmt.Fprintf(os.Stderr, "goro-bench-go: unknown workload %q\n", name)
		os.Exit(2)
	}
}

// record is one result line, the same shape as the Rust side's.
type record struct {
	Workload string  `json:"workload"`
	System   string  `json:"system"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Workers  int     `json:"workers,omitempty"`
}

// emit prints one result line.
func emit(workload string, value float64, unit string) {
	rec := record{Workload: workload, System: "go", Value: value, Unit: unit}
	if sweep {
		rec.Workers = runtime.GOMAXPROCS(0)
	}
	line, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(line))
}

func perOp(d time.Duration, ops uint64) float64 {
	if ops == 0 {
		ops = 1
	}
	return float64(d.Nanoseconds()) / float64(ops)
}

// check stops the process when a workload computed a wrong answer.
func check(ok bool, format string, args ...any) {
	if !ok {
		fmt.Fprintf(os.Stderr, "goro-bench-go: wrong result: "+format+"\n", args...)
		os.Exit(3)
	}
}

// memoryBytes returns VmRSS + VmPTE from /proc/self/status (resident pages plus the page
// tables that map them), as the Rust side does.
func memoryBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	var total uint64
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmPTE:") {
			fields := strings.Fields(line)
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				panic(err)
			}
			total += kb * 1024
		}
	}
	return total
}

// spawn: n goroutines that each add their number to a shared sum; wait for all of them.
func spawn(n uint64) {
	var wg sync.WaitGroup
	var sum atomic.Uint64
	start := time.Now()
	for i := uint64(0); i < n; i++ {
		wg.Add(1)
		go func() {
			sum.Add(i)
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	check(sum.Load() == n*(n-1)/2, "spawn sum %d", sum.Load())
	emit("spawn", perOp(elapsed, n), "ns/task")
}

// spawnPlain: the plain Go shape, n goroutines that only mark the wait group done.
// Wait returning is the check: it returns only when every goroutine has run.
func spawnPlain(n uint64) {
	var wg sync.WaitGroup
	start := time.Now()
	for i := uint64(0); i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	emit("spawn-plain", perOp(time.Since(start), n), "ns/task")
}

// yield: two goroutines on one P yield to each other n times each.
func yield(n uint64) {
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	start := time.Now()
	for t := 0; t < 2; t++ {
		wg.Add(1)
		go func() {
			for i := uint64(0); i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	emit("yield", perOp(time.Since(start), 2*n), "ns/yield")
}

// pingpong: a value bounces over two unbuffered channels n times.
func pingpong(n uint64) {
	ping := make(chan uint64)
	pong := make(chan uint64)
	start := time.Now()
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	var v uint64
	for i := uint64(0); i < n; i++ {
		ping <- v
		v = <-pong
	}
	elapsed := time.Since(start)
	close(ping)
	check(v == n, "pingpong counted %d, expected %d", v, n)
	emit("pingpong", perOp(elapsed, n), "ns/round-trip")
}

const ring = 503

// threadRing: 503 goroutines in a ring of unbuffered channels pass a token n hops.
func threadRing(hops uint64) {
	chans := make([]chan uint64, ring)
	for i := range chans {
		chans[i] = make(chan uint64)
	}
	done := make(chan uint64, 1)
	start := time.Now()
	for i := 0; i < ring; i++ {
		in, out := chans[i], chans[(i+1)%ring]
		label := uint64(i + 1)
		go func() {
			for token := range in {
				if token == 0 {
					done <- label
					return
				}
				out <- token - 1
			}
		}()
	}
	chans[0] <- hops
	winner := <-done
	elapsed := time.Since(start)
	check(winner == hops%ring+1, "thread-ring winner %d, expected %d", winner, hops%ring+1)
	emit("thread-ring", perOp(elapsed, hops), "ns/hop")
}

// ANCHOR: skynet
// skynet: each node spawns 10 children until size 1; a leaf returns its number and each
// node sends the sum of its children up (the well-known Go version, one channel per node).
func skynet(c chan<- uint64, num, size uint64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan uint64)
	div := size / 10
	for i := uint64(0); i < 10; i++ {
		go skynet(rc, num+i*div, div)
	}
	var sum uint64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynetBench(leaves uint64) {
	c := make(chan uint64)
	start := time.Now()
	go skynet(c, 0, leaves)
	sum := <-c
	elapsed := time.Since(start)
	check(sum == leaves*(leaves-1)/2, "skynet sum %d", sum)
	emit("skynet", float64(elapsed.Nanoseconds())/1e6, "ms")
}

// ANCHOR_END: skynet

// park: launch n goroutines that each block until released; report launch time per
// goroutine and resident bytes per parked goroutine.
func park(n uint64) {
	var parked atomic.Uint64
	release := make(chan struct{})
	var wg sync.WaitGroup
	before := memoryBytes()
	start := time.Now()
	for i := uint64(0); i < n; i++ {
		wg.Add(1)
		go func() {
			parked.Add(1)
			<-release
			wg.Done()
		}()
	}
	for parked.Load() < n {
		runtime.Gosched()
	}
	launch := time.Since(start)
	after := memoryBytes()
	close(release)
	wg.Wait()
	emit("park-launch", perOp(launch, n), "ns/task")
	var grown uint64
	if after > before {
		grown = after - before
	}
	emit("park-memory", float64(grown)/float64(n), "B/task")
}

// selectBench: one goroutine selects over two unbuffered channels, each fed by its own
// sender, n messages in all.
func selectBench(n uint64) {
	a := make(chan uint64)
	b := make(chan uint64)
	half := n / 2
	start := time.Now()
	go func() {
		for i := uint64(0); i < half; i++ {
			a <- 1
		}
	}()
	go func() {
		for i := uint64(0); i < n-half; i++ {
			b <- 2
		}
	}()
	var fromA, fromB uint64
	for i := uint64(0); i < n; i++ {
		select {
		case v := <-a:
			fromA += v
		case v := <-b:
			fromB += v
		}
	}
	elapsed := time.Since(start)
	check(fromA == half && fromB == 2*(n-half), "select got %d from a and %d from b", fromA, fromB/2)
	emit("select", perOp(elapsed, n), "ns/op")
}

// The echo workload, as bench/src/echo.rs describes it: a loopback server and its clients in
// one process, a goroutine per connection on each side. Go sets TCP_NODELAY on every TCP
// connection by default and raises its own open-file limit at start-up, so neither needs a
// line here.
const (
	echoMsg   = 64
	echoConns = 1000
)

// echoFill writes the message connection i sends in round r (as echo::fill does).
func echoFill(msg []byte, i, r uint64) {
	for k := range msg {
		msg[k] = byte((i*31 ^ r*7) + uint64(k))
	}
}

// echoRounds is how many round trips connection i of conns makes so that all make n.
func echoRounds(i, conns, n uint64) uint64 {
	extra := uint64(0)
	if i < n%conns {
		extra = 1
	}
	return n/conns + extra
}

// echoRound sends round r's message on connection i, reads it back and checks every byte.
func echoRound(c net.Conn, i, r uint64) {
	var msg, back [echoMsg]byte
	echoFill(msg[:], i, r)
	if _, err := c.Write(msg[:]); err != nil {
		panic(fmt.Sprintf("client write: %v", err))
	}
	if _, err := io.ReadFull(c, back[:]); err != nil {
		panic(fmt.Sprintf("client read: %v", err))
	}
	check(msg == back, "connection %d, round %d: the echo differs from the message", i, r)
}

// echoServe echoes what arrives on one connection until the peer closes.
func echoServe(c net.Conn) uint64 {
	defer c.Close()
	buf := make([]byte, 4096)
	var echoed uint64
	for {
		got, err := c.Read(buf)
		if got > 0 {
			if _, werr := c.Write(buf[:got]); werr != nil {
				panic(fmt.Sprintf("server write: %v", werr))
			}
			echoed += uint64(got)
		}
		if err == io.EOF {
			return echoed
		}
		if err != nil {
			panic(fmt.Sprintf("server read: %v", err))
		}
	}
}

func echoBench(name string, conns, n uint64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("listen on 127.0.0.1:0: %v", err))
	}
	total := make(chan uint64)
	go func() {
		var wg sync.WaitGroup
		var echoed atomic.Uint64
		for i := uint64(0); i < conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				panic(fmt.Sprintf("accept: %v", err))
			}
			wg.Add(1)
			go func() {
				echoed.Add(echoServe(c))
				wg.Done()
			}()
		}
		wg.Wait()
		total <- echoed.Load()
	}()
	gate := make(chan struct{})
	var clients sync.WaitGroup
	for i := uint64(0); i < conns; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(fmt.Sprintf("connect: %v", err))
		}
		echoRound(c, i, 0)
		clients.Add(1)
		go func() {
			<-gate
			for r := uint64(1); r <= echoRounds(i, conns, n); r++ {
				echoRound(c, i, r)
			}
			c.Close()
			clients.Done()
		}()
	}
	start := time.Now()
	close(gate)
	clients.Wait()
	elapsed := time.Since(start)
	echoed := <-total
	want := (n + conns) * echoMsg
	check(echoed == want, "the server echoed %d bytes, expected %d", echoed, want)
	emit(name, perOp(elapsed, n), "ns/round-trip")
}
