// Package tools will hold the assembled broker and the strom command.
package tools
