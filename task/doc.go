// Package task is the leaf that every other package shares: the task format
// users submit (Spec, one JSON object per queue line), its strict validation,
// the content digest that keys the scratch cache, and the result record a
// final task leaves (Result). It imports nothing of the project.
package task
