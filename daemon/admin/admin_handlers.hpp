// Internal to the admin API: the handlers and what they share.
#pragma once

#include <functional>
#include <string>

#include "auth/auth_service.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/message.hpp"
#include "daemon/http/router.hpp"

namespace llmd::admin {

// Work for the admin thread: gets the connection, the admin operations and the
// acting admin ("key:<id>"), returns the response.
using AdminWork = std::function<http::Response(storage::Database&, auth::AdminService&, const std::string& actor)>;

// Runs `work` on the admin thread and answers `ex` with its response.
void run_admin(auth::AuthService* auth, const http::ExchangePtr& ex, AdminWork work);

void create_team(auth::AuthService* auth, http::ExchangePtr ex);
void list_teams(auth::AuthService* auth, http::ExchangePtr ex);
void get_team(auth::AuthService* auth, http::ExchangePtr ex);
void update_team(auth::AuthService* auth, http::ExchangePtr ex);
void delete_team(auth::AuthService* auth, http::ExchangePtr ex);

void create_key(auth::AuthService* auth, http::ExchangePtr ex);
void list_keys(auth::AuthService* auth, http::ExchangePtr ex);
void get_key(auth::AuthService* auth, http::ExchangePtr ex);
void revoke_key(auth::AuthService* auth, http::ExchangePtr ex);
void rotate_key(auth::AuthService* auth, http::ExchangePtr ex);

void usage_report(auth::AuthService* auth, http::ExchangePtr ex);
void audit_log(auth::AuthService* auth, http::ExchangePtr ex);

}  // namespace llmd::admin
