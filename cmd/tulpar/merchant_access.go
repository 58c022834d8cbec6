package main

import (
	"io"

	"github.com/tulpar-switch/tulpar/switch/daemon"
)

// printMerchantAccess prints how a merchant reaches the demo.
func printMerchantAccess(w io.Writer, d *daemon.Demo) {}
