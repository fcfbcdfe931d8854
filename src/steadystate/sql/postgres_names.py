"""Which function names the dialect reads as the functions sqlglot knows: the ones PostgreSQL has.

sqlglot's PostgreSQL parser inherits every dialect's function names: MySQL's ``ifnull``/``group_concat``/``instr``,
Spark's ``explode``, Snowflake's ``iff``, BigQuery's ``array_size``...  Each becomes the node of a function the
planner may know under its PostgreSQL name, so ``SELECT ifnull(1, 2)`` answered where PostgreSQL says the function
does not exist, and ``group_concat(x)`` failed as ``function string_agg(text) does not exist`` — a name the user
never typed.  The dialect (sql/dialect.py) keeps only the names below; any other name is a plain call, which the
planner plans by its name or refuses with 42883 naming the function as typed, as PostgreSQL does.

:data:`FUNCTION_NAMES` are the names of sqlglot's PostgreSQL parser that are in PostgreSQL's ``pg_proc``;
:data:`KEYWORD_CALLS` are SQL constructs written as calls that are not in ``pg_proc`` (``COALESCE``, ``CAST``...).
:data:`NOT_POSTGRESQL_PARSERS` are special-syntax parsers of other systems (``TRY_CAST``, ``MAX_BY``...).
:data:`NOT_POSTGRESQL_TYPES` are type names of other systems the tokenizer would read as types (``STRING``,
``INT64``).  tests/sql/test_function_names_postgresql.py checks them all against a PostgreSQL server.
"""

from __future__ import annotations

FUNCTION_NAMES = frozenset({
    "abs", "acos", "acosh", "array_agg", "array_append", "array_cat", "array_length", "array_position",
    "array_prepend", "array_remove", "array_to_string", "ascii", "asin", "asinh", "atan", "atan2", "atanh", "avg",
    "bit_and", "bit_length", "bit_or", "bit_xor", "bool_and", "bool_or", "btrim", "cbrt", "ceil", "ceiling", "char",
    "character_length", "char_length", "chr", "concat", "concat_ws", "convert", "corr", "cos", "cosh", "cot",
    "count", "covar_pop", "covar_samp", "cume_dist", "current_database", "current_schema", "current_schemas",
    "current_user", "date", "date_bin", "date_trunc", "decode", "degrees", "dense_rank", "div", "encode", "exp",
    "extract", "factorial", "first_value", "floor", "format", "generate_series", "gen_random_uuid", "get_bit",
    "host", "initcap", "jsonb_contains", "jsonb_exists", "jsonb_object_agg", "json_extract_path",
    "json_extract_path_text", "json_object_agg", "json_strip_nulls", "justify_days", "justify_hours",
    "justify_interval", "lag", "last_value", "lead", "left", "length", "like", "ln", "log", "log10", "lower",
    "lpad", "ltrim", "make_interval", "make_time", "make_timestamp", "max", "md5", "min", "mod", "mode",
    "normalize", "now", "nth_value", "ntile", "overlay", "percentile_cont", "percentile_disc", "percent_rank", "pi",
    "pow", "power", "radians", "random", "rank", "regexp_count", "regexp_instr", "regexp_like", "regexp_replace",
    "regexp_substr", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope", "regr_sxx",
    "regr_sxy", "regr_syy", "repeat", "replace", "reverse", "right", "round", "row_number", "rpad", "rtrim",
    "session_user", "sha256", "sha384", "sha512", "sign", "sin", "sinh", "split_part", "sqrt", "starts_with",
    "stddev", "stddev_pop", "stddev_samp", "string_to_array", "strpos", "substr", "substring", "sum", "tan", "tanh",
    "time", "timestamp", "to_char", "to_date", "to_hex", "to_number", "to_timestamp", "translate", "trunc",
    "unnest", "upper", "variance", "var_pop", "var_samp", "version", "width_bucket",
})

#: constructs PostgreSQL's grammar writes as calls (not functions in ``pg_proc``); ``AND``/``OR``/``FILTER`` are
#: sqlglot's own uses of the table
KEYWORD_CALLS = frozenset({
    "and", "array", "case", "cast", "coalesce", "collate", "collation", "current_catalog", "current_date",
    "current_role", "current_time", "current_timestamp", "exists", "filter", "greatest", "grouping", "least",
    "localtime", "localtimestamp", "nullif", "or", "trim", "xmlelement",
})

NOT_POSTGRESQL_PARSERS = frozenset({
    "ARGMAX", "ARGMIN", "ARG_MAX", "ARG_MIN", "GAP_FILL", "JSON_OBJECTAGG", "JSON_TABLE", "JSON_VALUE", "MATCH",
    "MAX_BY", "MIN_BY", "OPENJSON", "SAFE_CAST", "TRY_CAST", "TRY_CONVERT", "WEIGHT_STRING",
})

#: type names of sqlglot's tokenizer that PostgreSQL does not know (``CAST(x AS string)`` is 42704 there); the
#: serial types, ``list``/``map`` (Materialize's) and words with other uses (``ARRAY``, ``RANGE``, ``BINARY``...)
#: stay
NOT_POSTGRESQL_TYPES = frozenset({
    "BIGDECIMAL", "BIGNUM", "BIGNUMERIC", "BLOB", "BYTE", "CLOB", "DATETIME", "DECFLOAT", "DECIMAL128", "DECIMAL256",
    "DECIMAL32", "DECIMAL64", "DOUBLE", "FIXED", "GEOGRAPHY", "GEOMETRY", "HSTORE", "HUGEINT", "INT1", "INT128",
    "INT16", "INT256", "INT32", "INT64", "LONG", "LONGBLOB", "LONGTEXT", "LONGVARCHAR", "MEDIUMBLOB", "MEDIUMINT",
    "MEDIUMTEXT", "NULLABLE", "NUMBER", "NVARCHAR", "NVARCHAR2", "SHORT", "STR", "STRING", "TIMESTAMPLTZ",
    "TIMESTAMPNTZ", "TIMESTAMP_LTZ", "TIMESTAMP_NTZ", "TIME_NS", "TINYBLOB", "TINYINT", "TINYTEXT", "UHUGEINT",
    "UINT", "UINT128", "UINT256", "VARBINARY", "VARCHAR2", "VARIANT", "VECTOR",
})


def is_postgresql_call(name: str) -> bool:
    """Whether the dialect reads ``name(...)`` as the function sqlglot knows by that name."""
    lower = name.lower()
    return lower in FUNCTION_NAMES or lower in KEYWORD_CALLS


__all__ = ["FUNCTION_NAMES", "KEYWORD_CALLS", "NOT_POSTGRESQL_PARSERS", "NOT_POSTGRESQL_TYPES", "is_postgresql_call"]
