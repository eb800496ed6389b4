// Unbuffered ping-pong: two goroutines pass a counter back and forth over
// two unbuffered channels N times (N round trips), then print it.
// Run: ping_pong N (default 100000). Twin of ping_pong.weft.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	n := 100000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 0 {
			fmt.Fprintln(os.Stderr, "ping_pong: N must be a count")
			os.Exit(2)
		}
		n = v
	}
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	x := 0
	for i := 0; i < n; i++ {
		ping <- x
		x = <-pong
	}
	close(ping)
	fmt.Println(x)
}
