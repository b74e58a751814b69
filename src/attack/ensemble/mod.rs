//! Several runs as one attack, per image the one worst for the defender: the members' loop
//! ([`members`]), the mIoU worst case ([`greedy`]), SEA's losses ([`sea`]), restarts
//! ([`restarts`]) and a worst case over any attacks ([`worst_case`]).

pub mod greedy;
pub mod members;
pub mod restarts;
pub mod sea;
pub mod worst_case;
