#include "daemon/http/message.hpp"

#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace llmd::http {

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string_view Headers::get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (iequals(f.first, name)) return f.second;
  }
  return {};
}

bool Headers::has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(), [&](const Field& f) { return iequals(f.first, name); });
}

void Headers::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& p : params) {
    if (p.first == name) return p.second;
  }
  return {};
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    auto value = percent_decode(pair.substr(eq + 1), true);
    if (value) return value;
  }
  return std::nullopt;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.set("content-type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::text(int status, std::string body, std::string_view content_type) {
  Response r;
  r.status = status;
  r.headers.set("content-type", content_type);
  r.body = std::move(body);
  return r;
}

std::string_view error_type_for(int status) {
  switch (status) {
    case 400: case 405: case 411: case 413: case 415: case 422: case 431:
      return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 409: return "conflict_error";
    case 429: return "rate_limit_error";
    default: break;
  }
  return status >= 500 ? "server_error" : "invalid_request_error";
}

Response error_response(int status, std::string_view message, std::string_view code, std::string_view param,
                        std::string_view type) {
  boost::json::object err;
  err["message"] = message;
  err["type"] = type.empty() ? error_type_for(status) : type;
  err["param"] = param.empty() ? boost::json::value(nullptr) : boost::json::value(param);
  err["code"] = code.empty() ? boost::json::value(nullptr) : boost::json::value(code);
  boost::json::object root;
  root["error"] = std::move(err);
  return Response::json(status, boost::json::serialize(root));
}

std::string_view reason_phrase(int status) {
  auto r = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  return std::string_view(r.data(), r.size());
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return std::nullopt;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace llmd::http
