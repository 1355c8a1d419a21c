// Command calgen derives the Try-it page's table of the model's known
// error (lab/serve/calibration.json) from the results.json of one or more
// lab runs with --browser model,chromium (a kind of cell measured in
// several counts all its cells):
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
	if err := run(flag.Args(), *note); err != nil {
		fmt.Fprintln(os.Stderr, "calgen:", err)
		os.Exit(1)
	}
}

func run(paths []string, note string) error {
	if len(paths) == 0 {
		return fmt.Errorf("no results.json given; run `earlyhints lab --scenario calibration --out DIR` and pass DIR/results.json")
	}
	var runs []*experiment.Results
	for _, path := range paths {
		b, err := os.ReadFile(path) //nolint:gosec // the operator names the results files
		if err != nil {
			return fmt.Errorf("calgen: %w; pass the results.json of an earlyhints lab run", err)
		}
		var res experiment.Results
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("%s is not a lab results.json: %w", path, err)
		}
		runs = append(runs, &res)
	}
	cal := serve.NewCalibration(note, runs...)
	if len(cal.Errors) == 0 {
		return fmt.Errorf("no cell of %v was measured in both the model and Chromium; run with --browser model,chromium", paths)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(cal)
}
