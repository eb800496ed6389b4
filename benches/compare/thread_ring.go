// The benchmarks-game thread-ring, as its Go programs do it: 503
// goroutines in a ring of unbuffered channels pass a token N times (each
// hands on token-1); the goroutine that receives 0 prints its number
// (1-based) and the program exits. Run: thread_ring N (default 1000).
package main

import (
	"fmt"
	"os"
	"strconv"
)

const ring = 503

func member(id int, in <-chan int, out chan<- int) {
	for {
		token := <-in
		if token == 0 {
			fmt.Println(id)
			os.Exit(0)
		}
		out <- token - 1
	}
}

func main() {
	n := 1000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 0 {
			fmt.Fprintln(os.Stderr, "usage: thread_ring N")
			os.Exit(2)
		}
		n = v
	}
	first := make(chan int)
	in := first
	for id := 1; id < ring; id++ {
		out := make(chan int)
		go member(id, in, out)
		in = out
	}
	go member(ring, in, first)
	first <- n
	select {} // the member that sees 0 exits the process
}
