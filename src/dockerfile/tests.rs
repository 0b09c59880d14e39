//! Conformance tests against BuildKit's parser and shell test data, unit tests for what the
//! data does not cover (heredocs, directives, errors), and no-panic property tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;

/// BuildKit's test data (copied byte for byte from `../shared/conformance/`, with its
/// license note, so that the suite needs nothing outside the repository).
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dockerfile-parser")
}

#[expect(
    clippy::disallowed_methods,
    reason = "test data; fs_err is not a dependency of this leaf"
)]
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[expect(
    clippy::disallowed_methods,
    reason = "test data; fs_err is not a dependency of this leaf"
)]
fn case_dirs(path: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn positive_cases_dump_like_buildkit() {
    let dirs = case_dirs(&corpus().join("parser/testfiles"));
    let mut failures = Vec::new();
    for dir in &dirs {
        let source = read(&dir.join("Dockerfile"));
        let expected = read(&dir.join("result"));
        match parse(&source, "Dockerfile") {
            Ok(file) => {
                let actual = dump(&file) + "\n";
                if actual != expected {
                    failures.push(format!(
                        "{}:\n--- expected\n{expected}--- actual\n{actual}",
                        case_name(dir)
                    ));
                }
            }
            Err(error) => failures.push(format!("{}: parse failed:\n{error}", case_name(dir))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(dirs.len(), 33, "positive case count");
}

#[test]
fn negative_cases_fail() {
    let dirs = case_dirs(&corpus().join("parser/testfiles-negative"));
    let accepted: Vec<String> = dirs
        .iter()
        .filter(|dir| parse(&read(&dir.join("Dockerfile")), "Dockerfile").is_ok())
        .map(|dir| case_name(dir))
        .collect();
    assert!(accepted.is_empty(), "accepted negative cases: {accepted:?}");
    assert_eq!(dirs.len(), 4, "negative case count");
}

#[test]
fn line_numbers() {
    let source = read(&corpus().join("parser/testfile-line/Dockerfile"));
    let file = parse(&source, "Dockerfile").unwrap();
    assert_eq!(
        file.span,
        Span {
            line: 5,
            end_line: 31
        }
    );
    let spans: Vec<(usize, usize)> = file
        .instructions
        .iter()
        .map(|i| (i.span.line, i.span.end_line))
        .collect();
    assert_eq!(spans, [(5, 5), (11, 12), (17, 31)]);
}

fn env_var_test_env() -> BTreeMap<String, String> {
    [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn env_var_vectors() {
    let env = env_var_test_env();
    let (mut total, mut ran) = (0, 0);
    let mut failures = Vec::new();
    for line in read(&corpus().join("shell/envVarTest")).lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let [platform, input, expected] = fields.as_slice() else {
            panic!("bad vector line: {line:?}");
        };
        total += 1;
        // Windows-only vectors (case-insensitive names) are skipped, as BuildKit does on Linux.
        if *platform == "W" {
            continue;
        }
        ran += 1;
        let actual = expand_word(input, &env, '\\');
        let ok = match (*expected, &actual) {
            ("error", result) => result.is_err(),
            (want, Ok(got)) => want == got,
            (_, Err(_)) => false,
        };
        if !ok {
            failures.push(format!("{input:?}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        (total, ran),
        (230, 228),
        "envVarTest: 230 vectors, 228 for Linux"
    );
}

#[test]
fn words_vectors() {
    let mut env: Vec<(String, String)> = Vec::new();
    let (mut vectors, mut env_lines) = (0, 0);
    let mut failures = Vec::new();
    for line in read(&corpus().join("shell/wordsTest")).lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(assignment) = line.strip_prefix("ENV ") {
            let (key, value) = assignment.trim_start().split_once('=').unwrap();
            env.push((key.to_owned(), value.to_owned()));
            env_lines += 1;
            continue;
        }
        let [input, expected] = line.split('|').collect::<Vec<_>>()[..] else {
            panic!("bad vector line: {line:?}");
        };
        vectors += 1;
        let (input, expected) = (input.trim(), expected.trim_start());
        let actual = expand_words(input, &env, '\\');
        let ok = match (expected, &actual) {
            ("error", result) => result.is_err(),
            (want, Ok(got)) => want.split(',').collect::<Vec<_>>() == *got,
            (_, Err(_)) => false,
        };
        if !ok {
            failures.push(format!("{input:?}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!((vectors, env_lines), (24, 4));
}

fn only(source: &str) -> Instruction {
    let file = parse(source, "Dockerfile").unwrap();
    file.instructions.into_iter().last().unwrap()
}

#[test]
fn heredoc_run_single() {
    let run = only("FROM a\nRUN <<EOF\necho hi\necho $X\nEOF\n");
    assert_eq!(run.args, ["<<EOF"]);
    assert_eq!(
        run.span,
        Span {
            line: 2,
            end_line: 5
        }
    );
    let [doc] = run.heredocs.as_slice() else {
        panic!("{:?}", run.heredocs)
    };
    assert_eq!(doc.name, "EOF");
    assert_eq!(doc.content, "echo hi\necho $X\n");
    assert!(doc.expand && !doc.chomp);
}

#[test]
fn heredoc_two_on_one_line() {
    let file = parse(
        "FROM a\nRUN <<A cat - <<B\na1\nA\nb1\nB\nRUN true\n",
        "Dockerfile",
    )
    .unwrap();
    let run = &file.instructions[1];
    let names: Vec<(&str, &str)> = run
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str()))
        .collect();
    assert_eq!(names, [("A", "a1\n"), ("B", "b1\n")]);
    assert_eq!(file.instructions[2].args, ["true"]);
    assert_eq!(file.instructions[2].span.line, 7);
}

#[test]
fn heredoc_chomp_strips_tabs() {
    let run = only("FROM a\nRUN <<-EOF\n\t\techo hi\n\tEOF\n");
    assert_eq!(run.heredocs[0].content, "echo hi\n");
    assert!(run.heredocs[0].chomp);
}

#[test]
fn heredoc_quoted_delimiter_is_not_expanded() {
    for marker in ["<<'EOF'", "<<\"EOF\"", "<<E\"O\"F"] {
        let run = only(&format!("FROM a\nRUN {marker}\n$X\nEOF\n"));
        assert_eq!(run.heredocs[0].name, "EOF", "{marker}");
        assert!(!run.heredocs[0].expand, "{marker}");
    }
}

#[test]
fn heredoc_copy_with_destination_and_fd() {
    let copy = only("FROM a\nCOPY <<EOF /dest\nhello\nEOF\n");
    assert_eq!(copy.args, ["<<EOF", "/dest"]);
    assert_eq!(copy.heredocs[0].content, "hello\n");
    let run = only("FROM a\nRUN 3<<EOF cat /dev/fd/3\nx\nEOF\n");
    assert_eq!(run.heredocs[0].file_descriptor, 3);
}

#[test]
fn heredoc_not_recognised_in_json_quotes_or_other_instructions() {
    assert!(
        only("FROM a\nRUN [\"cat\", \"<<EOF\"]\n")
            .heredocs
            .is_empty()
    );
    assert!(only("FROM a\nRUN echo \"<<EOF\"\n").heredocs.is_empty());
    assert!(only("FROM a\nRUN echo \\<<EOF\n").heredocs.is_empty());
    // ENV takes no heredoc: the next line is an instruction of its own.
    assert_eq!(
        parse("FROM a\nENV A <<EOF\nB\n", "Dockerfile")
            .unwrap()
            .instructions
            .len(),
        3
    );
    let onbuild = only("FROM a\nONBUILD RUN <<EOF\nx\nEOF\n");
    assert_eq!(onbuild.onbuild.unwrap().heredocs[0].content, "x\n");
}

#[test]
fn heredoc_unterminated_is_an_error() {
    let error = parse("FROM a\n\nRUN <<EOF\necho hi\n", "Dockerfile").unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::UnterminatedHeredoc);
    assert_eq!(error.line, 3);
    assert_eq!(error.source_line.as_deref(), Some("RUN <<EOF"));
}

#[test]
fn escape_directive_backtick() {
    let file = parse(
        "# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo x\n",
        "Dockerfile",
    )
    .unwrap();
    assert_eq!(file.directives.escape, '`');
    assert_eq!(file.instructions[1].args, ["dir c:\\   && echo x"]);
    let error = parse("# escape=x\nFROM a\n", "Dockerfile").unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::Directive);
    assert!(parse("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile").is_err());
}

#[test]
fn syntax_and_check_directives_are_kept() {
    let source = "# Syntax = docker/dockerfile:1\n#check=skip=all\nFROM a\n";
    let file = parse(source, "Dockerfile").unwrap();
    assert_eq!(
        file.directives.syntax.as_deref(),
        Some("docker/dockerfile:1")
    );
    assert_eq!(file.directives.check.as_deref(), Some("skip=all"));
    let late = parse("FROM a\n# syntax=x\n", "Dockerfile").unwrap();
    assert_eq!(late.directives.syntax, None);
}

#[test]
fn unknown_instruction_is_kept_then_rejected_with_suggestion() {
    let file = parse("FROM a\n\nRUNN echo hi\n", "Dockerfile").unwrap();
    assert_eq!(dump(&file), "(from \"a\")\n(runn \"\")");
    let error = file.validate().unwrap_err();
    assert_eq!(error.line, 3);
    assert_eq!(
        error.message,
        "unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        error.kind,
        ParseErrorKind::UnknownInstruction {
            suggestion: Some("RUN".to_owned())
        }
    );
    let far = parse("FROM a\nXYZZY\n", "Dockerfile")
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(far.message, "unknown instruction: XYZZY");
}

#[test]
fn error_display_has_location_source_and_caret() {
    let error = parse("FROM a\n\n  RUNN echo hi\n", "Dockerfile")
        .unwrap()
        .validate()
        .unwrap_err();
    let expected = "Dockerfile:3\n--------------------\n   3 |   RUNN echo hi\n     |   ^\n\
                    --------------------\nerror: unknown instruction: RUNN (did you mean RUN?)";
    assert_eq!(error.to_string(), expected);
    let empty = parse("", "Dockerfile").unwrap_err();
    assert_eq!(
        empty.to_string(),
        "Dockerfile\nerror: file with no instructions"
    );
}

#[test]
fn onbuild_triggers_are_checked() {
    for (source, message) in [
        (
            "FROM a\nONBUILD ONBUILD RUN x\n",
            "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "FROM a\nONBUILD FROM b\n",
            "FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM a\nONBUILD MAINTAINER me\n",
            "MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
    ] {
        let error = parse(source, "Dockerfile").unwrap().validate().unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ParseErrorKind::Onbuild, message)
        );
        assert_eq!(error.column, Some(9));
    }
    assert!(
        parse("FROM a\nONBUILD RUN x\n", "Dockerfile")
            .unwrap()
            .validate()
            .is_ok()
    );
}

#[test]
fn flags_are_typed_and_checked() {
    let copy =
        only("FROM a\nCOPY --from=build --chown=\"a:b\" --link --exclude=*.md --exclude=x . /\n");
    assert_eq!(copy.flags.get("from"), Some("build"));
    assert_eq!(copy.flags.get("chown"), Some("a:b"));
    assert_eq!(copy.flags.get_bool("link"), Ok(true));
    assert_eq!(copy.flags.get_bool("parents"), Ok(false));
    assert_eq!(copy.flags.get_all("exclude"), ["*.md", "x"]);
    assert!(copy.check_flags().is_ok());
    let run = only("FROM a\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t x\n");
    assert_eq!(
        run.flags.get_all("mount"),
        ["type=cache,target=/c", "type=tmpfs,target=/t"]
    );
    let file = parse("FROM a\nCOPY --form=x . /\n", "Dockerfile").unwrap();
    let error = file.validate().unwrap_err();
    assert_eq!(
        (error.message.as_str(), error.column),
        ("unknown flag: form", Some(6))
    );
    let checks = [
        ("COPY --from . /", FlagError::MissingValue("from".into())),
        (
            "COPY --from=a --from=b . /",
            FlagError::Duplicate("from".into()),
        ),
        ("RUN --link x", FlagError::Unknown("link".into())),
        (
            "COPY --link= . /",
            FlagError::NotBool {
                name: "link".into(),
                value: String::new(),
            },
        ),
    ];
    for (line, expected) in checks {
        assert_eq!(
            only(&format!("FROM a\n{line}\n")).check_flags(),
            Err(expected),
            "{line}"
        );
    }
}

#[test]
fn stages_and_validation_of_global_instructions() {
    let source =
        "ARG V=1\nFROM --platform=$P a:${V} AS Build\nRUN x\nFROM scratch\nCOPY --from=build / /\n";
    let file = parse(source, "Dockerfile").unwrap();
    assert!(file.validate().is_ok());
    assert_eq!(file.global_args().len(), 1);
    let stages = file.stages();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name().as_deref(), Some("build"));
    assert_eq!(stages[0].base(), Some("a:${V}"));
    assert_eq!(stages[0].platform(), Some("$P"));
    assert_eq!(stages[0].instructions.len(), 1);
    assert_eq!(stages[1].name(), None);
    let error = parse("RUN x\nFROM a\n", "Dockerfile")
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::NoStage);
}

#[test]
fn env_pairs_and_legacy_form() {
    let env = only("FROM a\nENV A=1 B=\"x y\"\n");
    assert_eq!(env.key_values(), [("A", "1"), ("B", "\"x y\"")]);
    assert!(!env.is_legacy_key_value());
    assert!(only("FROM a\nENV A 1 2\n").is_legacy_key_value());
    assert!(parse("FROM a\nENV A=1 B\n", "Dockerfile").is_err());
}

#[test]
fn references_and_modifiers() {
    let refs = referenced_vars("${A:-$B} \"$C\" '$D' ${E:?x}", '\\').unwrap();
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["A", "B", "C", "E"]);
    let env: BTreeMap<String, String> =
        [("P".to_owned(), "/usr/local/bin/tool.tar.gz".to_owned())].into();
    for (word, expected) in [
        ("${P#*/}", "usr/local/bin/tool.tar.gz"),
        ("${P##*/}", "tool.tar.gz"),
        ("${P%.*}", "/usr/local/bin/tool.tar"),
        ("${P%%.*}", "/usr/local/bin/tool"),
        ("${P/o/0}", "/usr/l0cal/bin/tool.tar.gz"),
        ("${P//o/0}", "/usr/l0cal/bin/t00l.tar.gz"),
        ("${P//[lo]/}", "/usr/ca/bin/t.tar.gz"),
        ("${X/a/b}", ""),
    ] {
        assert_eq!(expand_word(word, &env, '\\').unwrap(), expected, "{word}");
    }
    let expansion = expand("$P$Q", &env, '\\').unwrap();
    assert_eq!(expansion.unset.into_iter().collect::<Vec<_>>(), ["Q"]);
    assert_eq!(expand_word("a`$b", &EmptyEnv, '`').unwrap(), "a$b");
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let deep = "${A:-".repeat(100_000);
    let error = expand_word(&deep, &EmptyEnv, '\\').unwrap_err();
    assert_eq!(error.reason, ExpandErrorReason::TooDeep);
    let onbuild = format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(100_000));
    assert_eq!(
        parse(&onbuild, "Dockerfile").unwrap_err().kind,
        ParseErrorKind::Syntax
    );
    let json = format!("FROM a\nCMD {}\n", "[".repeat(100_000));
    assert!(!parse(&json, "Dockerfile").unwrap().instructions[1].json_form);
}

#[test]
fn crlf_bom_and_go_quoting() {
    let file = parse(
        "\u{feff}FROM a\r\nRUN echo \\\r\n  hi\r\nCMD [\"\\u00e9\\u0001\"]\r\n",
        "Dockerfile",
    )
    .unwrap();
    assert_eq!(
        dump(&file),
        "(from \"a\")\n(run \"echo   hi\")\n(cmd \"é\\x01\")"
    );
}

/// Fragments that exercise the lexer's and parser's special cases.
fn dockerfile_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("FROM".to_owned()),
        Just("RUN".to_owned()),
        Just("COPY".to_owned()),
        Just("ENV".to_owned()),
        Just("ONBUILD".to_owned()),
        Just("HEALTHCHECK".to_owned()),
        Just("# escape=`\n".to_owned()),
        Just("# syntax=x\n".to_owned()),
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("\\".to_owned()),
        Just("`".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("<<EOF".to_owned()),
        Just("<<-'EOF'".to_owned()),
        Just("EOF".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just("$".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("--".to_owned()),
        Just("=".to_owned()),
        Just("#".to_owned()),
        Just(":-".to_owned()),
        Just("%%".to_owned()),
        Just("/".to_owned()),
        Just("*".to_owned()),
        "[a-z0-9\u{e9}\u{85}\u{a0}]{1,3}",
    ]
}

fn exercise(text: &str) {
    if let Ok(file) = parse(text, "Dockerfile") {
        let _ = dump(&file);
        let _ = file.validate().map_err(|e| e.to_string());
        let _ = file.stages();
    }
    for escape in ['\\', '`'] {
        let _ = expand_word(text, &EmptyEnv, escape);
        let _ = expand_words(text, &EmptyEnv, escape);
        let _ = referenced_vars(text, escape);
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn dockerfile_like_tokens_never_panic(
        tokens in prop::collection::vec(dockerfile_token(), 0..40)
    ) {
        exercise(&tokens.concat());
    }

    #[test]
    fn expansion_is_identity_without_specials(text in "[a-zA-Z0-9 _./:=-]{0,40}") {
        let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        prop_assert_eq!(expand_word(&text, &EmptyEnv, '\\').unwrap(), text.clone());
        prop_assert_eq!(expand_words(&text, &EmptyEnv, '\\').unwrap(), words);
    }
}
