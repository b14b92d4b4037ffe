"""Passwords too common to accept, whatever their length.

Drawn from the most frequent entries of public breach corpora that are at least 10 characters
long (shorter ones are refused by the length rule anyway). Lower-case: the check is
case-insensitive. A Python module rather than a data file, so it ships in the layer as code.
"""

from typing import Final

COMMON_PASSWORDS: Final = frozenset(
    {
        # digit runs and keyboard walks
        "0000000000", "0123456789", "0987654321", "1111111111", "1122334455", "1212121212",
        "1231231231", "123123123123", "1234512345", "1234554321", "1234567890", "12345678910",
        "1234567891", "123456123456", "1234567812345678", "1234567890123", "123654789a",
        "1472583690", "147258369a", "147852369a", "159357159357", "2222222222", "5555555555",
        "741852963a", "7777777777", "789456123a", "9876543210", "9999999999",
        "qwertyuiop", "qwertyuiop1", "qwertyuiop123", "qwerty1234", "qwerty12345", "qwerty123456",
        "qwertyqwerty", "123456qwerty", "1q2w3e4r5t", "1q2w3e4r5t6y", "q1w2e3r4t5", "q1w2e3r4t5y6",
        "1qaz2wsx3edc", "1qazxsw23edc", "qazwsxedc123", "zaq12wsxcde3", "zaq1zaq1zaq1",
        "123qweasdzxc", "1234qwerasdf", "qwer1234asdf", "asdfghjkl1", "asdfasdfasdf", "asdf1234asdf",
        "zxcvbnm123", "zxcvbnm1234", "abcdefghij", "abcdefg123", "abc1234567", "abcd123456",
        "abc123456789", "123456789a", "a123456789", "1234567890a", "1234567890q", "1a2b3c4d5e",
        "a1b2c3d4e5", "aaaaaaaaaa",
        # "password" and friends
        "password12", "password123", "password1234", "password12345", "password123456",
        "password1!", "passw0rd123", "p@ssw0rd123", "p@ssword123", "passwordpassword",
        "mypassword", "mypassword1", "secret1234", "secretpassword", "changeme123", "letmein123",
        "letmein1234", "letmeinplease", "welcome123", "welcome1234", "administrator", "admin12345",
        "admin123456", "adminadmin", "iloveyou12", "iloveyou123", "iloveyou1234", "iloveyou!!",
        # names, words and teams
        "basketball", "manchester", "liverpool1", "chelsea123", "arsenal123", "football12",
        "football123", "baseball12", "baseball123", "superman123", "starwars123", "princess123",
        "sunshine123", "michael123", "jennifer123", "charlie123", "jessica123", "pokemon123",
        "minecraft1", "minecraft123", "tinkerbell", "strawberry", "butterfly1", "chocolate1",
        "elizabeth1", "computer123", "internet123", "whatever123", "master1234", "monkey12345",
        "dragon12345", "shadow12345", "summer2024", "summer2025",
        # this platform
        "letslive123", "letslive1234", "letsliveletslive", "livestream123", "streamer123",
    }
)  # fmt: skip
