// Command earlyhints sends 103 Early Hints in front of any origin.
package main

func main() {}
