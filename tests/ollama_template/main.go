// Renders an Ollama Modelfile TEMPLATE with Go's text/template, the engine Ollama itself uses,
// on the data shape Ollama passes it (.System, .Prompt, .Messages with .Role and .Content).
// Usage: go run main.go TEMPLATE_FILE < conversation.json
package main

import (
	"encoding/json"
	"os"
	"text/template"
)

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type Values struct {
	System   string
	Prompt   string
	Messages []Message
}

func main() {
	text, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var messages []Message
	if err := json.NewDecoder(os.Stdin).Decode(&messages); err != nil {
		panic(err)
	}
	tmpl := template.Must(template.New("modelfile").Parse(string(text)))
	if err := tmpl.Execute(os.Stdout, Values{Messages: messages}); err != nil {
		panic(err)
	}
}
