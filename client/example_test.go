package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/pilot-hpc/pilot/client"
	"github.com/pilot-hpc/pilot/task"
	"github.com/pilot-hpc/pilot/upstream"
)

// A campaign from a Go program: submit many tasks, then handle results as
// they arrive. The token comes from $PILOT_TOKEN.
func ExampleExecutor() {
	ctx := context.Background()
	q, err := upstream.Open("https://queue.example.org:8470", upstream.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	ex := client.New(q, client.Options{})
	defer ex.Close(ctx) // sends what is still buffered

	var specs []task.Spec
	for i := 0; i < 100000; i++ {
		specs = append(specs, task.Spec{ID: fmt.Sprintf("mol-%06d", i), Fn: "nmr-shift", Args: []string{"CCO"}, Cores: 8})
	}
	futures, err := ex.Map(ctx, specs) // about 100 requests; returns once all are stored
	if err != nil {
		log.Fatal(err)
	}
	for f := range ex.AsCompleted(ctx, futures) {
		r, err := f.Result(ctx)
		if err != nil {
			log.Printf("%s: %v", f.ID, err)
			continue
		}
		fmt.Println(f.ID, string(r.Value))
	}
}
