package natsstore

import "time"

// SetClaimTimeout bounds each of rs's claims' requests by d, not requestTimeout: a test of a
// claim that outlasts it need not wait as long. Called before rs is used.
func SetClaimTimeout(rs *RoomStore, d time.Duration) { rs.claimTimeout = d }
