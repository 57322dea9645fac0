/* The comment scan's inner loop: one pass over a decompressed region of a Pushshift RC_ dump.
 *
 * Nearly every line of a month of comments belongs to a post that was not kept, and parsing
 * JSON costs ~4 us a line. This loop finds each line's end and its "link_id" key (memchr),
 * reads the "t3_<id>" value after it (dumps of some eras put a space after the colon),
 * looks the id up in the set of kept post ids, and returns only the lines that need a real parse:
 * kept posts' lines and every line where the byte search could read another link id than a
 * JSON parse would. A line is skipped (counted as not kept) only when all of these hold:
 *   - "link_id" occurs exactly once in the line (a nested object with its own link_id key, a
 *     duplicate key, or the word as a string value all send the line to the parse);
 *   - the byte before it, blanks aside, is '{' or ',' (so its first quote opens a key: inside a
 *     JSON string a quote is escaped, and an escaped quote is preceded by a backslash);
 *   - no \u00XX escape of a character in 0x40-0x7F (letters, '_') appears in the line (a key
 *     spelled "link\u005fid" is "link_id" to a parser but invisible to the byte search);
 *   - the value is "t3_<letters and digits>" and that id is not kept.
 * A JSON parser would then read the same id from the same key, or drop the line as malformed:
 * the keep decision never differs from a full parse. See karma/data/comment_collection.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static const char KEY[] = "\"link_id\"";
#define KEY_LEN (sizeof(KEY) - 1)
static const char PREFIX[] = "\"t3_";
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define KEY_K 4 /* the index of 'k' in KEY */

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int is_id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* 1 when the key's first quote may not open a key: the byte before it, blanks aside, must be
   '{' or ','. */
static int key_is_ambiguous(const char *line, const char *hit)
{
    const char *p = hit;
    while (p > line && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    return p == line || (p[-1] != '{' && p[-1] != ',');
}

/* The first "link_id" in [p, end), or NULL. memchr (vectorised in libc) finds the needle's rare
   byte 'k' several times faster than memmem finds the whole needle. */
static const char *find_key(const char *p, const char *end)
{
    const char *k = p + KEY_K;
    while (k < end && (k = memchr(k, 'k', (size_t)(end - k))) != NULL) {
        const char *candidate = k - KEY_K;
        if (candidate + KEY_LEN <= end && memcmp(candidate, KEY, KEY_LEN) == 0)
            return candidate;
        k++;
    }
    return NULL;
}

/* 1 when the line holds a \u00XX escape of a character in 0x40-0x7F (letters, '_'): with it a
   key can spell "link_id" unseen by the byte search. Escapes of '<', '>', '&' (Go's encoder
   writes them) and of non-ASCII text stay on the fast path. */
static int has_escaped_word_char(const char *line, const char *line_end)
{
    const char *p = line;
    while (p < line_end && (p = memchr(p, '\\', (size_t)(line_end - p))) != NULL) {
        if (line_end - p < 5)  /* an escape cut by the line end: let the parse judge */
            return p + 1 < line_end && p[1] == 'u';
        if (p[1] == 'u' && p[2] == '0' && p[3] == '0' && p[4] >= '4' && p[4] <= '7')
            return 1;
        p += 2; /* past the escaped character, so "\\u0041" (a backslash, then text) is not one */
    }
    return 0;
}

/* 1 when the line's link id is in post_ids or not certain (parse it), 0 when it is not kept. */
static int needs_parse(const char *line, const char *line_end, PyObject *post_ids)
{
    const char *hit = find_key(line, line_end);
    if (hit == NULL || key_is_ambiguous(line, hit))
        return 1;
    const char *value = skip_blanks(hit + KEY_LEN, line_end);
    if (value == line_end || *value != ':')
        return 1;
    value = skip_blanks(value + 1, line_end);
    if ((size_t)(line_end - value) < PREFIX_LEN || memcmp(value, PREFIX, PREFIX_LEN) != 0)
        return 1;
    const char *id = value + PREFIX_LEN, *stop = id;
    while (stop < line_end && is_id_char(*stop))
        stop++;
    if (stop == id || stop == line_end || *stop != '"')
        return 1;
    if (find_key(stop, line_end) != NULL || has_escaped_word_char(line, line_end))
        return 1;
    PyObject *key = PyBytes_FromStringAndSize(id, stop - id);
    if (key == NULL)
        return -1;
    int found = PySet_Contains(post_ids, key);
    Py_DECREF(key);
    return found;
}

static PyObject *lines_to_parse(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, end;
    PyObject *post_ids;
    if (!PyArg_ParseTuple(args, "y*nnO:lines_to_parse", &view, &start, &end, &post_ids))
        return NULL;
    PyObject *spans = NULL;
    if (!PyAnySet_Check(post_ids)) {
        PyErr_SetString(PyExc_TypeError, "post_ids must be a set or frozenset of bytes");
        goto done;
    }
    if (start < 0 || end > view.len || start > end) {
        PyErr_Format(PyExc_ValueError, "region [%zd, %zd) is outside the buffer of %zd bytes",
                     start, end, view.len);
        goto done;
    }
    spans = PyList_New(0);
    if (spans == NULL)
        goto done;
    const char *buf = view.buf, *line = buf + start, *stop = buf + end;
    Py_ssize_t n_lines = 0;
    while (line < stop) {
        const char *newline = memchr(line, '\n', (size_t)(stop - line));
        const char *line_end = newline ? newline : stop;
        n_lines++;
        int parse = needs_parse(line, line_end, post_ids);
        if (parse < 0)
            goto fail;
        if (parse) {
            PyObject *span = Py_BuildValue("(nnn)", line - buf, line_end - buf, n_lines - 1);
            if (span == NULL || PyList_Append(spans, span) < 0) {
                Py_XDECREF(span);
                goto fail;
            }
            Py_DECREF(span);
        }
        line = line_end + 1;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nN)", n_lines, spans);
fail:
    Py_CLEAR(spans);
done:
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"lines_to_parse", lines_to_parse, METH_VARARGS,
     "lines_to_parse(buffer, start, end, post_ids)\n"
     "    -> (n_lines, [(line_start, line_end, line_index), ...])\n\n"
     "Lines of buffer[start:end] that need a JSON parse: those whose link_id is in\n"
     "post_ids (a set of bytes ids without 't3_') and those whose link_id a byte search\n"
     "cannot read with certainty (see the comment at the top of _linescan.c); line_index\n"
     "counts the region's lines from 0.\n"
     "Every other line belongs to a post that was not kept. A last line without a newline\n"
     "counts as a line."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "karma.data._linescan",
    "Compiled inner loop of the comment scan (karma.data.comment_collection).", -1, methods,
};

PyMODINIT_FUNC PyInit__linescan(void)
{
    return PyModule_Create(&module);
}
