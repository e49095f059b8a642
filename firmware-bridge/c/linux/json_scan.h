/* A minimal JSON scanner for the test programs (not for boards): calls `on_object` for every
 * object with its scalar members (strings unescaped for \" \\ \n \uXXXX below 0x80, numbers
 * and booleans as text); nested objects and arrays are visited on their own. */
#ifndef JSON_SCAN_H
#define JSON_SCAN_H
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#define JS_MAX_MEMBERS 16
typedef struct { char *key[JS_MAX_MEMBERS]; char *val[JS_MAX_MEMBERS]; int n; } js_object;
typedef void (*js_fn)(const js_object *o, void *ctx);

static const char *js_get(const js_object *o, const char *k) {
  int i;
  for (i = 0; i < o->n; i++) if (!strcmp(o->key[i], k)) return o->val[i];
  return NULL;
}

static const char *js_ws(const char *p) { while (*p && isspace((unsigned char)*p)) p++; return p; }

/* Parses a string at p (at the quote); returns a malloc'd copy, *end after it. */
static char *js_str(const char *p, const char **end) {
  size_t cap = strlen(p) + 1, o = 0;
  char *s = (char *)malloc(cap);
  p++;
  while (*p && *p != '"') {
    if (*p == '\\') {
      p++;
      if (*p == 'n') s[o++] = '\n';
      else if (*p == 'u') { s[o++] = (char)strtol((char[]){ p[1], p[2], p[3], p[4], 0 }, NULL, 16); p += 4; }
      else s[o++] = *p;
      p++;
    } else s[o++] = *p++;
  }
  s[o] = 0;
  *end = *p ? p + 1 : p;
  return s;
}

static const char *js_value(const char *p, js_fn fn, void *ctx, char **scalar);

static const char *js_object_at(const char *p, js_fn fn, void *ctx) {
  js_object o;
  int i;
  o.n = 0;
  p = js_ws(p + 1);
  while (*p && *p != '}') {
    char *k = js_str(p, &p), *v = NULL;
    p = js_ws(p);
    if (*p == ':') p++;
    p = js_value(js_ws(p), fn, ctx, &v);
    if (v && o.n < JS_MAX_MEMBERS) { o.key[o.n] = k; o.val[o.n++] = v; } else { free(k); free(v); }
    p = js_ws(p);
    if (*p == ',') p = js_ws(p + 1);
  }
  fn(&o, ctx);
  for (i = 0; i < o.n; i++) { free(o.key[i]); free(o.val[i]); }
  return *p ? p + 1 : p;
}

static const char *js_value(const char *p, js_fn fn, void *ctx, char **scalar) {
  *scalar = NULL;
  if (*p == '{') return js_object_at(p, fn, ctx);
  if (*p == '[') {
    p = js_ws(p + 1);
    while (*p && *p != ']') {
      char *ignored;
      p = js_ws(js_value(p, fn, ctx, &ignored));
      free(ignored);
      if (*p == ',') p = js_ws(p + 1);
    }
    return *p ? p + 1 : p;
  }
  if (*p == '"') { *scalar = js_str(p, &p); return p; }
  {
    const char *s = p;
    size_t n;
    while (*p && *p != ',' && *p != '}' && *p != ']' && !isspace((unsigned char)*p)) p++;
    n = (size_t)(p - s);
    *scalar = (char *)malloc(n + 1);
    memcpy(*scalar, s, n); (*scalar)[n] = 0;
    return p;
  }
}

static int js_scan_file(const char *path, js_fn fn, void *ctx) {
  FILE *f = fopen(path, "rb");
  long n;
  char *buf, *ignored;
  if (!f) return -1;
  fseek(f, 0, SEEK_END); n = ftell(f); fseek(f, 0, SEEK_SET);
  buf = (char *)malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return -1; }
  buf[n] = 0;
  fclose(f);
  js_value(js_ws(buf), fn, ctx, &ignored);
  free(ignored);
  free(buf);
  return 0;
}
#endif
