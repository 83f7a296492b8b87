# Writes OUTPUT: a header holding INPUT as a raw string literal
# (recsys::server::internal::kStatusPageHtml).
file(READ ${INPUT} page)
file(WRITE ${OUTPUT}
  "// Generated from server/status_page.html; do not edit.\n"
  "#pragma once\n"
  "namespace recsys::server::internal {\n"
  "inline constexpr char kStatusPageHtml[] = R\"RECSYS_PAGE(${page})RECSYS_PAGE\";\n"
  "}  // namespace recsys::server::internal\n")
