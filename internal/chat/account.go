package chat

import (
	"context"
	"errors"
	"time"
)

// Account is a registered name: who holds it must give its password.
type Account struct {
	// ID is the store's number for the account, never reused: what private history is kept
	// under, so that a name registered again after /unregister reads none of it.
	ID      int64
	Name    string    // the name as registered
	Keys    [2]string // the name's skeletons (Name.looks): look-alikes find the account too
	Hash    string    // the password's hash (internal/password)
	Created time.Time
	// Oper: named an operator by `hubbub account oper`; --operators names more.
	Oper bool
}

// Accounts keeps the accounts. Declared here, implemented by the history store.
type Accounts interface {
	// FindAccount returns the account whose name looks like one of keys.
	FindAccount(ctx context.Context, keys [2]string) (Account, bool, error)
	// CreateAccount adds a; ErrAccountExists when a name that looks the same is registered.
	CreateAccount(ctx context.Context, a Account) error
	// SetPassword replaces the hash of the account registered as name (Account.Name, exactly
	// as FindAccount returned it: a look-alike could match another account); ErrNoAccount when
	// there is none.
	SetPassword(ctx context.Context, name string, hash string) error
	// DeleteAccount deletes the account registered as name (exactly, as for SetPassword);
	// ErrNoAccount when there is none.
	DeleteAccount(ctx context.Context, name string) error
}

// ErrAccountExists is what CreateAccount reports when a registered name looks like the new one.
var ErrAccountExists = errors.New("account exists")

// ErrNoAccount is what SetPassword and DeleteAccount report when no account has the name.
var ErrNoAccount = errors.New("no such account")

// Keys returns n's skeletons, by which an account is found whoever types a look-alike of it.
func (n Name) Keys() [2]string { return n.looks }
