// Package conversation holds only tests: the chat's conversations over TCP, as a telnet or nc
// user has them. Each test starts a real chat on the real line transport at 127.0.0.1:0 and
// talks to it line by line; what the chat does on Message values, with no transport, is tested
// in package chat.
package conversation
