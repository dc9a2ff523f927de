#include "tools/llmctl/admin_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace llmd::llmctl {

namespace json = boost::json;

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_' || c == '.' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Result<client::HttpResponse> AdminClient::send(std::string_view method, std::string_view path,
                                               client::HeaderList headers, std::string_view body) {
  headers.emplace_back("authorization", "Bearer " + key_);
  auto res = client::https_request(url_, tls_, method, path, headers, body);
  if (!res) return res;
  if (res->status >= 200 && res->status < 300) return res;
  std::string message = "HTTP " + std::to_string(res->status);
  ErrorCode code = ErrorCode::bad_answer;  // the server's code when it names one of ours
  std::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* err = v.as_object().if_contains("error"); err && err->is_object()) {
      if (const json::value* m = err->as_object().if_contains("message"); m && m->is_string()) {
        message += ": " + std::string(m->as_string());
      }
      if (const json::value* c = err->as_object().if_contains("code"); c && c->is_string()) {
        code = error_code_from_string(c->as_string()).value_or(code);
      }
    }
  }
  if (!res->header("retry-after").empty()) message += " (retry after " + res->header("retry-after") + " s)";
  return Error(code, message);
}

Result<json::value> AdminClient::call(std::string_view method, std::string_view path,
                                      const std::optional<json::value>& body) {
  client::HeaderList headers{{"accept", "application/json"}};
  std::string text;
  if (body) {
    headers.emplace_back("content-type", "application/json");
    text = json::serialize(*body);
  }
  auto res = send(method, path, std::move(headers), text);
  if (!res) return res.take_error();
  std::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec) return Error(ErrorCode::bad_answer, "the server's answer is not JSON");
  return v;
}

Result<std::string> AdminClient::get_text(std::string_view path, std::string_view accept) {
  auto res = send("GET", path, {{"accept", std::string(accept)}}, {});
  if (!res) return res.take_error();
  return std::move(res->body);
}

}  // namespace llmd::llmctl
