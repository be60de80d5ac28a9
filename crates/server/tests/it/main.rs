//! Integration tests: every flow of the foundation driven over real HTTP
//! against a real server and database. Run on SQLite by default and on
//! PostgreSQL with `TRAM_TEST_DATABASE_URL=postgres://…`.

mod kit;

mod approval_files;
mod approval_notices;
mod approval_stats;
mod approvals;
mod approvals_pages;
mod assistant;
mod chat;
mod chat_files;
mod chat_pages;
mod chat_search;
mod cluster;
mod codes;
mod delivery;
mod devices;
mod jobs;
mod login;
mod members;
mod platform;
mod qr_login;
mod registration;
mod robots;
mod robots_admin;
mod robots_checkin;
mod robots_interactive;
mod robots_outgoing;
mod robots_schedule;
mod two_factor;
