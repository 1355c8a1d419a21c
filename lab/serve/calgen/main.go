// Command calgen derives the Try-it page's table of the model's known
// error (lab/serve/calibration.json) from a lab run's results.json, a run
// with --browser model,chromium:
//
//	go run ./lab/serve/calgen -note "load average 0.8 on 2 cores, Chromium 156" lab-out/results.json > lab/serve/calibration.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/earlyhints/earlyhints/lab/experiment"
	"github.com/earlyhints/earlyhints/lab/serve"
)

func main() {
	note := flag.String("note", "", "under what conditions the run was taken (machine load, versions)")
	flag.Parse()
	if err := run(flag.Arg(0), *note); err != nil {
		fmt.Fprintln(os.Stderr, "calgen:", err)
		os.Exit(1)
	}
}

func run(path, note string) error {
	if path == "" {
		return fmt.Errorf("no results.json given; run `earlyhints lab --browser model,chromium --out DIR` and pass DIR/results.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res experiment.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s is not a lab results.json: %w", path, err)
	}
	cal := serve.NewCalibration(&res, note)
	if len(cal.Errors) == 0 {
		return fmt.Errorf("%s has no cell measured in both the model and Chromium; run with --browser model,chromium", path)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(cal)
}
